#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "checkpoint.h"
#include "clock.h"
#include "flash.h"
#include "link.h"
#include "mt_status.h"
#include "model_params.h"
#include "order.h"
#include "run.h"
#include "semihost.h"
#include "stack_usage.h"
#include "trainer.h"
#include "uploads.h"
#include "wire.h"

#define PROGRESS_MS 200u
#define IO_BYTES 256u

#if defined(__ARM_FP)
#define DEVICE_NAME AGENT_NAME_M4F
#else
#define DEVICE_NAME AGENT_NAME_M3
#endif

typedef struct {
    int ready;
    uint32_t total, crc;
} snapshot;

static struct {
    link_state link;
    upload_state upload;
    trainer t;
    int loaded, running, host_listening;
    run_state run;
    uint32_t data_crc, last_progress_ms, order_epoch;
    snapshot downloads[3];   /* by WHAT_* */
    int32_t order[TRAINER_MAX_SAMPLES];
} A;

static const char *const SNAPSHOT_FILES[3] = {"", "dl_weights.tmp", "dl_checkpoint.tmp"};

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

static void reply_error(const link_msg *msg, uint16_t code, const char *fmt, ...)
{
    uint8_t out[FRAME_MAX_PAYLOAD];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf((char *)out + 2, sizeof(out) - 2, fmt, args);
    va_end(args);
    if (n < 0) n = 0;
    if (n > (int)sizeof(out) - 3) n = sizeof(out) - 3;
    put_u16(out, code);
    if (link_is_request(msg)) link_reply(&A.link, msg, MSG_ERROR, out, 2u + (uint32_t)n);
}

static void progress(uint8_t state)
{
    uint8_t out[35];
    float loss, accuracy, rate;
    uint32_t read, written;
    uint32_t epoch = run_shown_epoch(&A.run);
    run_figures(&A.run, A.t.bundle.batch, &loss, &accuracy, &rate);
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

static void forget_downloads(void)
{
    for (int i = 1; i < 3; i++) {
        A.downloads[i].ready = 0;
        flash_remove(SNAPSHOT_FILES[i]);
    }
}

static void boot(void)
{
    stop_running();
    flash_remove(FLASH_UPLOAD_TEMP);
    flash_remove("ckpt.tmp");
    forget_downloads();
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
        forget_downloads();
        load_bundle();
        restore(0);
    }
    return UPLOAD_ACCEPTED;
}

/* ---- downloads ---------------------------------------------------------------- */

static int snapshot_weights(flash_file *f, uint32_t *off, uint32_t *crc)
{
    uint32_t ids[MODEL_MAX_PARAMS];
    uint8_t buf[IO_BYTES];
    int32_t n = model_param_ids(A.t.bundle.model_json, A.t.bundle.model_json_len, ids, MODEL_MAX_PARAMS);
    if (n < 0) return -1;
    for (int32_t i = 0; i < n; i++) {
        uint32_t nbytes = trainer_tensor_bytes(&A.t, ids[i]);
        put_u32(buf, ids[i]);
        put_u32(buf + 4, nbytes);
        if (flash_pwrite(f, *off, buf, 8) != 0) return -1;
        *crc = mt_crc32(*crc, buf, 8);
        *off += 8;
        for (uint32_t at = 0; at < nbytes; at += IO_BYTES) {
            uint32_t k = nbytes - at < IO_BYTES ? nbytes - at : IO_BYTES;
            if (trainer_tensor_io(&A.t, ids[i], at, buf, k, 0) != 0 || flash_pwrite(f, *off, buf, k) != 0)
                return -1;
            *crc = mt_crc32(*crc, buf, k);
            *off += k;
        }
    }
    return 0;
}

static int snapshot_checkpoint(flash_file *f, uint32_t *off, uint32_t *crc)
{
    checkpoint_info info;
    flash_file src;
    uint8_t buf[IO_BYTES];
    const char *slot = checkpoint_newest(A.t.bundle_crc, &info);
    if (!slot || flash_open(&src, slot) != 0) return 1;
    int32_t len = flash_length(&src);
    int status = len < 0 ? -1 : 0;
    while (status == 0 && *off < (uint32_t)len) {
        uint32_t k = (uint32_t)len - *off < IO_BYTES ? (uint32_t)len - *off : IO_BYTES;
        status = flash_pread(&src, *off, buf, k) == 0 && flash_pwrite(f, *off, buf, k) == 0 ? 0 : -1;
        *crc = mt_crc32(*crc, buf, k);
        *off += k;
    }
    flash_close(&src);
    return status;
}

/* One moment's blob in a flash file, so a download during training stays consistent. */
static int take_snapshot(uint8_t what)
{
    flash_file f;
    uint32_t off = 0, crc = 0;
    if (flash_create(&f, SNAPSHOT_FILES[what]) != 0) return -1;
    int status = what == WHAT_WEIGHTS ? snapshot_weights(&f, &off, &crc) : snapshot_checkpoint(&f, &off, &crc);
    flash_close(&f);
    A.downloads[what].ready = status == 0;
    A.downloads[what].total = off;
    A.downloads[what].crc = crc;
    return status;
}

static void download(const link_msg *msg)
{
    uint8_t what = msg->payload[0];
    uint32_t offset = get_u32(msg->payload + 1), max_len = get_u16(msg->payload + 5);
    if (!A.loaded) return reply_error(msg, ERR_NOT_FOUND, "no bundle: upload one first");
    if (what != WHAT_WEIGHTS && what != WHAT_CHECKPOINT)
        return reply_error(msg, ERR_NOT_FOUND, "nothing to download for what=%u", what);
    if (offset == 0 || !A.downloads[what].ready) {
        int status = take_snapshot(what);
        if (status > 0) return reply_error(msg, ERR_NOT_FOUND, "no checkpoint of the current bundle");
        if (status < 0) return reply_error(msg, ERR_STORAGE, "cannot snapshot what=%u", what);
    }
    snapshot *s = &A.downloads[what];
    uint8_t out[FRAME_MAX_PAYLOAD];
    flash_file f;
    if (offset > s->total) offset = s->total;
    uint32_t n = max_len && max_len < MAX_DATA ? max_len : MAX_DATA;
    if (n > s->total - offset) n = s->total - offset;
    out[0] = what;
    put_u32(out + 1, s->total);
    put_u32(out + 5, s->crc);
    put_u32(out + 9, offset);
    int ok = flash_open(&f, SNAPSHOT_FILES[what]) == 0 && flash_pread(&f, offset, out + 13, n) == 0;
    flash_close(&f);
    if (!ok) return reply_error(msg, ERR_STORAGE, "cannot read the snapshot");
    link_reply(&A.link, msg, MSG_DATA, out, 13u + n);
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
    if (!A.loaded) return reply_error(msg, ERR_NOT_FOUND, "no bundle: upload one first");
    if (A.running) return reply_error(msg, ERR_BAD_STATE, "training is running: send TRAIN_STOP first");
    const mt_train_settings *s = &A.t.bundle.train;
    uint32_t n = prepare_data(&data_crc, &code, err, sizeof(err));
    if (!n) return reply_error(msg, code, "%s", err);
    if (run_plan(s->epochs, s->iterations, n, A.t.bundle.batch, get_u16(msg->payload),
                 get_u32(msg->payload + 2), &per_epoch, &total, &epochs, err, sizeof(err)) != 0)
        return reply_error(msg, ERR_BAD_STATE, "%s", err);
    uint32_t every = get_u32(msg->payload + 6);
    trainer_reset(&A.t);
    A.data_crc = data_crc;
    run_init(&A.run, per_epoch, total, epochs, every ? every : s->checkpoint_interval, n, s->shuffle_seed,
             (s->flags & 1u) != 0, 0);
    start_run();
    if (write_checkpoint(STATE_RUNNING) != 0) {  /* the run survives a power cut from now on */
        stop_running();
        return reply_error(msg, ERR_STORAGE, "cannot write checkpoint");
    }
    link_reply(&A.link, msg, MSG_OK, 0, 0);
}

static void dispatch(const link_msg *msg)
{
    if (uploads_handle(&A.upload, &A.link, msg, accept_upload, log_error)) return;
    switch (msg->type) {
    case MSG_HELLO:
        if (msg->len != 2) return reply_error(msg, ERR_BAD_PAYLOAD, "bad HELLO payload");
        return hello(msg);
    case MSG_RESET:
        link_reply(&A.link, msg, MSG_OK, 0, 0);
        uploads_abandon(&A.upload);
        return boot();
    case MSG_TRAIN_START:
        if (msg->len != 10) return reply_error(msg, ERR_BAD_PAYLOAD, "bad TRAIN_START payload");
        return train_start(msg);
    case MSG_TRAIN_STOP:
        link_reply(&A.link, msg, MSG_OK, 0, 0);
        if (A.running) end_run(STATE_STOPPED);
        return;
    case MSG_DOWNLOAD:
        if (msg->len != 7) return reply_error(msg, ERR_BAD_PAYLOAD, "bad DOWNLOAD payload");
        return download(msg);
    default:
        return reply_error(msg, ERR_UNKNOWN_MESSAGE, "unknown message 0x%02x", msg->type);
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
    int epoch_end = run_record(&A.run, n_iter, loss, correct, A.t.bundle.batch, clock_ms() - started);
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
