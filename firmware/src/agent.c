#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "checkpoint.h"
#include "clock.h"
#include "flash.h"
#include "link.h"
#include "mt_status.h"
#include "downloads.h"
#include "order.h"
#include "reply_error.h"
#include "run.h"
#include "semihost.h"
#include "stack_usage.h"
#include "trainer.h"
#include "uploads.h"
#include "wire.h"

#define PROGRESS_MS 200u

#if defined(__ARM_FP)
#define DEVICE_NAME AGENT_NAME_M4F
#else
#define DEVICE_NAME AGENT_NAME_M3
#endif

static struct {
    link_state link;
    upload_state upload;
    trainer t;
    int loaded, running, host_listening;
    run_state run;
    uint32_t data_crc, last_progress_ms, order_epoch;
    downloads_state downloads;
    int32_t order[TRAINER_MAX_SAMPLES];
} A;

/* ---- events ---------------------------------------------------------------- */

static void emit(uint8_t type, const uint8_t *payload, uint32_t len)
{
    if (!A.host_listening) return;  /* an absent host never holds up training */
    if (link_event(&A.link, type, payload, len) != 0) {
        A.host_listening = 0;
        semihost_write0("board: events paused until the host speaks\n");
    }
}

static void log_text(uint8_t level, const char *fmt, ...)
{
    uint8_t out[FRAME_MAX_PAYLOAD];
    char line[FRAME_MAX_PAYLOAD + 16];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf((char *)out + 1, sizeof(out) - 1, fmt, args);
    va_end(args);
    if (n < 0) n = 0;
    if (n > (int)sizeof(out) - 2) n = sizeof(out) - 2;
    out[0] = level;
    snprintf(line, sizeof(line), "board: %s: %.*s\n", level >= LOG_ERROR ? "error" : level >= LOG_WARNING
             ? "warning" : "info", n, (char *)out + 1);
    semihost_write0(line);
    emit(MSG_LOG, out, 1u + (uint32_t)n);
}

static void log_error(const char *text) { log_text(LOG_ERROR, "%s", text); }

static void progress(uint8_t state)
{
    uint8_t out[35];
    float loss, accuracy, rate;
    uint32_t read, written;
    uint32_t epoch = run_shown_epoch(&A.run);
    run_figures(&A.run, A.t.bundle.iteration_samples, &loss, &accuracy, &rate);
    trainer_swap_bytes(&A.t, &read, &written);
    A.last_progress_ms = clock_ms();
    out[0] = state;
    put_u16(out + 1, (uint16_t)(epoch > 0xFFFF ? 0xFFFF : epoch));
    put_u32(out + 3, A.run.iteration);
    put_u32(out + 7, A.run.total);
    put_f32(out + 11, loss);
    put_f32(out + 15, accuracy);
    put_f32(out + 19, rate);
    put_u32(out + 23, A.t.bundle.program.arena_bytes);
    put_u32(out + 27, read);
    put_u32(out + 31, written);
    emit(MSG_PROGRESS, out, sizeof(out));
}

/* ---- bundle, data, checkpoints ------------------------------------------------ */

static int write_checkpoint(uint32_t state)
{
    checkpoint_info info = {0, A.t.bundle_crc, A.data_crc, A.run.iteration, run_epoch(&A.run),
                            A.run.target_epochs, A.run.total, A.run.per_epoch, A.run.checkpoint_every, state};
    return checkpoint_write(&A.t, &info);
}

static void stop_running(void) { A.running = 0; }

static void fail(const char *text)
{
    log_error(text);
    progress(STATE_FAILED);
    stop_running();
}

static void end_run(uint32_t state)
{
    char line[64];
    if (write_checkpoint(state) != 0) return fail("cannot write checkpoint");
    progress((uint8_t)state);
    stop_running();
    snprintf(line, sizeof(line), "board: stack peak %lu bytes\n", (unsigned long)stack_peak_bytes());
    semihost_write0(line);  /* console only: bench/firmware.py reads it */
}

/* A stored samples blob's header -> n_samples, or 0 if malformed. */
static uint32_t samples_header(flash_file *f, uint32_t *x_numel, uint32_t *y_bytes)
{
    uint8_t h[16];
    int32_t len = flash_length(f);
    if (len < 16 || flash_pread(f, 0, h, 16) != 0 || memcmp(h, "MTSD", 4) != 0) return 0;
    uint32_t n = get_u32(h + 4);
    *x_numel = get_u32(h + 8);
    *y_bytes = get_u32(h + 12);
    if (!n || !*x_numel || !*y_bytes || *y_bytes % 4) return 0;
    uint64_t want = 16u + (uint64_t)n * (*x_numel * 4ull + *y_bytes);
    return want == (uint64_t)len ? n : 0;
}

/* samples.bin if present, else the bundle's DATA -> n_samples (0 and err on failure). */
static uint32_t prepare_data(uint32_t *data_crc, uint16_t *code, char *err, uint32_t err_len)
{
    flash_file f;
    mt_bundle *b = &A.t.bundle;
    *code = ERR_BAD_STATE;
    if (flash_open(&f, FLASH_SAMPLES) != 0) {
        if (!b->has_data) {
            *code = ERR_NOT_FOUND;
            snprintf(err, err_len, "no training data: upload samples or a bundle with DATA");
            return 0;
        }
        A.t.data = b->data;
        *data_crc = 0;
    } else {
        uint32_t x_numel, y_bytes, n = samples_header(&f, &x_numel, &y_bytes), len;
        flash_close(&f);
        if (!n) return (uint32_t)(snprintf(err, err_len, "samples.bin: malformed") * 0);
        if (x_numel != b->x_numel || y_bytes != b->y_bytes) {
            snprintf(err, err_len, "samples have x_numel %lu, y_bytes %lu; the bundle needs %lu, %lu",
                     (unsigned long)x_numel, (unsigned long)y_bytes, (unsigned long)b->x_numel,
                     (unsigned long)b->y_bytes);
            return 0;
        }
        const uint8_t *blob = flash_map(FLASH_SAMPLES, FLASH_WINDOW_SAMPLES, &len);
        if (!blob) return (uint32_t)(snprintf(err, err_len, "samples.bin: cannot map it") * 0);
        A.t.data.x = (const float *)(blob + 16);
        A.t.data.y = blob + 16 + (size_t)n * x_numel * 4u;
        A.t.data.n_samples = n;
        A.t.data.x_numel = x_numel;
        A.t.data.y_bytes = y_bytes;
        *data_crc = mt_crc32(0, blob, len);
    }
    if (A.t.data.n_samples > TRAINER_MAX_SAMPLES) {
        snprintf(err, err_len, "%lu samples: this board trains on at most %u",
                 (unsigned long)A.t.data.n_samples, TRAINER_MAX_SAMPLES);
        return 0;
    }
    return A.t.data.n_samples;
}

static void start_run(void)
{
    A.running = 1;
    A.order_epoch = UINT32_MAX;
    A.last_progress_ms = clock_ms();
}

static void resume(const checkpoint_info *info)
{
    char err[160];
    uint16_t code;
    uint32_t data_crc, n = prepare_data(&data_crc, &code, err, sizeof(err));
    if (!n) return log_text(LOG_ERROR, "cannot resume training: %s", err);
    if (data_crc != info->data_crc) return log_text(LOG_WARNING, "not resuming training: the training data changed");
    A.data_crc = data_crc;
    run_init(&A.run, info->per_epoch, info->target_iterations, info->target_epochs, info->checkpoint_every,
             n, A.t.bundle.train.shuffle_seed, (A.t.bundle.train.flags & 1u) != 0, info->iteration);
    start_run();
    log_text(LOG_INFO, "resumed training at iteration %lu of %lu", (unsigned long)A.run.iteration,
             (unsigned long)A.run.total);
}

static void restore(int may_resume)
{
    checkpoint_info info;
    const char *slot = A.loaded ? checkpoint_newest(A.t.bundle_crc, &info) : 0;
    if (!slot) return;
    if (checkpoint_restore(&A.t, slot) != 0) {
        log_text(LOG_ERROR, "checkpoint %lu does not fit the bundle", (unsigned long)info.seq);
        trainer_reset(&A.t);
        return;
    }
    if (may_resume && info.state == STATE_RUNNING && info.iteration < info.target_iterations) resume(&info);
}

static void load_bundle(void)
{
    char err[160];
    uint32_t len;
    if (A.loaded) trainer_close(&A.t);
    A.loaded = 0;
    const uint8_t *bytes = flash_map(FLASH_BUNDLE, FLASH_WINDOW_BUNDLE, &len);
    if (!bytes) return;
    if (trainer_load(&A.t, bytes, len, err, sizeof(err)) != 0)
        return log_text(LOG_ERROR, "stored bundle unusable: %s", err);
    if (A.t.bundle.program.arena_bytes > trainer_ram_bytes()) {
        trainer_close(&A.t);
        return log_text(LOG_ERROR, "stored bundle unusable: its arena needs %lu B, RAM limit %lu B",
                        (unsigned long)A.t.bundle.program.arena_bytes, (unsigned long)trainer_ram_bytes());
    }
    A.loaded = 1;
}

static void boot(void)
{
    stop_running();
    flash_remove(FLASH_UPLOAD_TEMP);
    flash_remove("ckpt.tmp");
    downloads_forget(&A.downloads);
    load_bundle();
    restore(1);
}

void agent_boot(uint16_t first_seq)
{
    memset(&A, 0, sizeof(A));
    link_init(&A.link, first_seq);
    uploads_init(&A.upload);
    A.host_listening = 1;
    boot();
}

/* ---- uploads ------------------------------------------------------------------ */

static uint8_t check_bundle(char *text, uint32_t text_len)
{
    char err[160];
    uint32_t len;
    mt_bundle view;
    const uint8_t *bytes = flash_map(FLASH_UPLOAD_TEMP, FLASH_WINDOW_DOWNLOAD, &len);
    if (!bytes) {
        snprintf(text, text_len, "invalid bundle: larger than this board's flash window");
        return REJECT_INVALID_BUNDLE;
    }
    if (mt_bundle_open(bytes, len, &view, err, sizeof(err)) != MT_OK) {
        snprintf(text, text_len, "invalid bundle: %s", err);
        return REJECT_INVALID_BUNDLE;
    }
    if (view.program.arena_bytes > trainer_ram_bytes()) {
        snprintf(text, text_len, "bundle too big: its arena needs %lu bytes of RAM, this board has %lu",
                 (unsigned long)view.program.arena_bytes, (unsigned long)trainer_ram_bytes());
        return REJECT_TOO_BIG;
    }
    return UPLOAD_ACCEPTED;
}

static uint8_t check_samples(char *text, uint32_t text_len)
{
    flash_file f;
    uint32_t x_numel, y_bytes, n = 0;
    if (flash_open(&f, FLASH_UPLOAD_TEMP) == 0) {
        n = samples_header(&f, &x_numel, &y_bytes);
        flash_close(&f);
    }
    if (n) return UPLOAD_ACCEPTED;
    snprintf(text, text_len, "invalid samples: not a well-formed MTSD blob");
    return REJECT_INVALID_SAMPLES;
}

static uint8_t accept_upload(uint8_t kind, char *text, uint32_t text_len)
{
    if (kind != KIND_BUNDLE && kind != KIND_SAMPLES) {
        snprintf(text, text_len, "upload rejected: unknown upload kind %u", kind);
        return REJECT_STORAGE;
    }
    uint8_t reason = kind == KIND_BUNDLE ? check_bundle(text, text_len) : check_samples(text, text_len);
    if (reason != UPLOAD_ACCEPTED) return reason;
    if (kind == KIND_BUNDLE && A.running) {
        log_text(LOG_WARNING, "new bundle: the running training stops");
        end_run(STATE_STOPPED);
    }
    if (flash_install(FLASH_UPLOAD_TEMP, kind == KIND_BUNDLE ? FLASH_BUNDLE : FLASH_SAMPLES) != 0) {
        snprintf(text, text_len, "upload rejected: cannot install it");
        return REJECT_STORAGE;
    }
    if (kind == KIND_BUNDLE) {
        downloads_forget(&A.downloads);
        load_bundle();
        restore(0);
    }
    return UPLOAD_ACCEPTED;
}

/* ---- requests ----------------------------------------------------------------- */

static void hello(const link_msg *msg)
{
    static const char name[] = DEVICE_NAME;
    char kernel[16];
    uint8_t out[64];
    uint32_t n = 0;
    int klen = snprintf(kernel, sizeof(kernel), "abi%d", MT_KERNEL_ABI_VERSION);
    put_u16(out, PROTOCOL_VERSION);
    put_u32(out + 2, trainer_ram_bytes());
    put_u32(out + 6, FLASH_CAPACITY);
    n = 10;
    out[n++] = sizeof(name) - 1;
    memcpy(out + n, name, sizeof(name) - 1);
    n += sizeof(name) - 1;
    out[n++] = (uint8_t)klen;
    memcpy(out + n, kernel, (size_t)klen);
    n += (uint32_t)klen;
    link_reply(&A.link, msg, MSG_INFO, out, n);
}

static void train_start(const link_msg *msg)
{
    char err[160];
    uint16_t code;
    uint32_t per_epoch, total, epochs, data_crc;
    if (!A.loaded) return reply_error(&A.link, msg, ERR_NOT_FOUND, "no bundle: upload one first");
    if (A.running) return reply_error(&A.link, msg, ERR_BAD_STATE, "training is running: send TRAIN_STOP first");
    const mt_train_settings *s = &A.t.bundle.train;
    uint32_t n = prepare_data(&data_crc, &code, err, sizeof(err));
    if (!n) return reply_error(&A.link, msg, code, "%s", err);
    if (run_plan(s->epochs, s->iterations, n, A.t.bundle.iteration_samples, get_u16(msg->payload),
                 get_u32(msg->payload + 2), &per_epoch, &total, &epochs, err, sizeof(err)) != 0)
        return reply_error(&A.link, msg, ERR_BAD_STATE, "%s", err);
    uint32_t every = get_u32(msg->payload + 6);
    trainer_reset(&A.t);
    A.data_crc = data_crc;
    run_init(&A.run, per_epoch, total, epochs, every ? every : s->checkpoint_interval, n, s->shuffle_seed,
             (s->flags & 1u) != 0, 0);
    start_run();
    if (write_checkpoint(STATE_RUNNING) != 0) {  /* the run survives a power cut from now on */
        stop_running();
        return reply_error(&A.link, msg, ERR_STORAGE, "cannot write checkpoint");
    }
    link_reply(&A.link, msg, MSG_OK, 0, 0);
}

static void dispatch(const link_msg *msg)
{
    if (uploads_handle(&A.upload, &A.link, msg, accept_upload, log_error)) return;
    switch (msg->type) {
    case MSG_HELLO:
        if (msg->len != 2) return reply_error(&A.link, msg, ERR_BAD_PAYLOAD, "bad HELLO payload");
        return hello(msg);
    case MSG_RESET:
        link_reply(&A.link, msg, MSG_OK, 0, 0);
        uploads_abandon(&A.upload);
        return boot();
    case MSG_TRAIN_START:
        if (msg->len != 10) return reply_error(&A.link, msg, ERR_BAD_PAYLOAD, "bad TRAIN_START payload");
        return train_start(msg);
    case MSG_TRAIN_STOP:
        link_reply(&A.link, msg, MSG_OK, 0, 0);
        if (A.running) end_run(STATE_STOPPED);
        return;
    case MSG_DOWNLOAD:
        if (msg->len != 7) return reply_error(&A.link, msg, ERR_BAD_PAYLOAD, "bad DOWNLOAD payload");
        return downloads_serve(&A.downloads, &A.link, A.loaded ? &A.t : 0, msg);
    default:
        return reply_error(&A.link, msg, ERR_UNKNOWN_MESSAGE, "unknown message 0x%02x", msg->type);
    }
}

/* ---- training ----------------------------------------------------------------- */

static void train_chunk(void)
{
    uint32_t first, n_iter;
    double loss, correct;
    run_next_chunk(&A.run, &first, &n_iter);
    if (A.order_epoch != run_epoch(&A.run)) {
        A.order_epoch = run_epoch(&A.run);
        epoch_order(A.order, A.run.n_samples, A.run.seed, A.order_epoch, A.run.shuffle);
    }
    uint32_t started = clock_ms();
    int status = trainer_train(&A.t, A.order, first, n_iter, &loss, &correct);
    if (status != 0) {
        char text[160];
        snprintf(text, sizeof(text), "training failed at iteration %lu: %s",
                 (unsigned long)A.run.iteration + 1, mt_status_str((mt_status)status));
        return fail(text);
    }
    int epoch_end = run_record(&A.run, n_iter, loss, correct, A.t.bundle.iteration_samples, clock_ms() - started);
    if (run_done(&A.run)) return end_run(STATE_FINISHED);
    if (run_checkpoint_due(&A.run) && write_checkpoint(STATE_RUNNING) != 0) return fail("cannot write checkpoint");
    if (epoch_end || clock_ms() - A.last_progress_ms >= PROGRESS_MS) progress(STATE_RUNNING);
    if (epoch_end) run_new_epoch(&A.run);
}

void agent_step(void)
{
    link_msg msg;
    if (link_poll(&A.link, &msg)) {
        A.host_listening = 1;
        dispatch(&msg);
    }
    if (A.running) train_chunk();
}
