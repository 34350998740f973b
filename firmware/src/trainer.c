#include <string.h>
#include "trainer.h"
#include "mt_exec.h"

extern uint8_t __arena_start[], __arena_end[];

uint32_t trainer_ram_bytes(void) { return (uint32_t)(__arena_end - __arena_start); }

static int swap_read_start(void *ctx, uint32_t offset, uint8_t *dst, uint32_t n, uint16_t tag)
{
    (void)tag;
    return flash_pread((flash_file *)ctx, offset, dst, n);
}

static int swap_read_wait(void *ctx, uint16_t tag)
{
    (void)ctx;
    (void)tag;
    return 0;  /* reads are synchronous */
}

static int swap_write(void *ctx, uint32_t offset, const uint8_t *src, uint32_t n)
{
    return flash_pwrite((flash_file *)ctx, offset, src, n);
}

static int open_swap(trainer *t)
{
    if (flash_open(&t->swap_file, FLASH_SWAP) != 0 && flash_create(&t->swap_file, FLASH_SWAP) != 0) return -1;
    static const uint8_t zero[4];
    uint32_t size = t->bundle.flash_bytes > 4 ? t->bundle.flash_bytes : 4;
    if (flash_length(&t->swap_file) < (int32_t)size && flash_pwrite(&t->swap_file, size - 4, zero, 4) != 0)
        return -1;
    t->storage.read_start = swap_read_start;
    t->storage.read_wait = swap_read_wait;
    t->storage.write = swap_write;
    t->storage.ctx = &t->swap_file;
    mt_swap_init(&t->swap, t->bundle.swap_events, t->bundle.n_swap_events, t->arena, &t->storage);
    t->hooks = mt_swap_hooks(&t->swap);
    t->has_swap = 1;
    return 0;
}

int trainer_load(trainer *t, const uint8_t *bytes, uint32_t len, char *err, uint32_t err_len)
{
    memset(t, 0, sizeof(*t));
    t->swap_file.handle = -1;
    if (mt_bundle_open(bytes, len, &t->bundle, err, err_len) != MT_OK) return -1;
    t->bundle_bytes = bytes;
    t->bundle_len = len;
    t->bundle_crc = mt_crc32(0, bytes, len);
    t->arena = __arena_start;
    if (t->bundle.swap_events && t->bundle.n_swap_events && open_swap(t) != 0) {
        strncpy(err, "cannot open the swap store " FLASH_SWAP, err_len);
        return -1;
    }
    return trainer_reset(t);
}

void trainer_close(trainer *t)
{
    flash_close(&t->swap_file);
    t->has_swap = 0;
}

/* The INIT record of tid, or 0 when the tensor is not persistent. */
static int find_init(const trainer *t, uint32_t tid, mt_init_record *rec)
{
    uint32_t cursor = 0;
    while (mt_bundle_next_init(&t->bundle, &cursor, rec))
        if (rec->tensor == tid) return 1;
    return 0;
}

int trainer_reset(trainer *t)
{
    uint32_t cursor = 0;
    mt_init_record rec;
    while (mt_bundle_next_init(&t->bundle, &cursor, &rec))
        if (trainer_tensor_io(t, rec.tensor, 0, (uint8_t *)rec.bytes, rec.nbytes, 1) != 0) return -1;
    return 0;
}

uint32_t trainer_tensor_bytes(const trainer *t, uint32_t tid)
{
    mt_init_record rec;
    if (find_init(t, tid, &rec)) return rec.nbytes;
    return tid < t->bundle.program.n_tensors ? t->bundle.program.tensors[tid].nbytes : 0;
}

int trainer_tensor_io(trainer *t, uint32_t tid, uint32_t offset, uint8_t *buf, uint32_t n, int write)
{
    mt_init_record rec;
    uint32_t where = MT_INIT_ARENA, home, size;
    if (find_init(t, tid, &rec)) {
        where = rec.where;
        home = rec.offset;
        size = rec.nbytes;
    } else if (tid < t->bundle.program.n_tensors) {
        home = t->bundle.program.tensors[tid].offset;
        size = t->bundle.program.tensors[tid].nbytes;
    } else {
        return -1;
    }
    if (offset > size || n > size - offset) return -1;
    if (where == MT_INIT_FLASH)
        return write ? flash_pwrite(&t->swap_file, home + offset, buf, n)
                     : flash_pread(&t->swap_file, home + offset, buf, n);
    if (write) memcpy(t->arena + home + offset, buf, n);
    else memcpy(buf, t->arena + home + offset, n);
    return 0;
}

int trainer_train(trainer *t, const int32_t *order, uint32_t first_batch, uint32_t n_iter,
                  double *loss, double *correct)
{
    float l, c;
    *loss = *correct = 0.0;
    for (uint32_t i = 0; i < n_iter; i++) {  /* one at a time: no per-chunk buffers in SRAM */
        int status = mt_train_loop(&t->bundle.program, t->arena, &t->data, order, t->data.n_samples,
                                   first_batch + i, 1, &l, &c, t->has_swap ? &t->hooks : 0);
        if (status != MT_OK) return status;
        *loss += l;
        *correct += c;
    }
    return MT_OK;
}

void trainer_swap_bytes(const trainer *t, uint32_t *read, uint32_t *written)
{
    *read = t->has_swap ? (uint32_t)t->swap.bytes_read : 0;
    *written = t->has_swap ? (uint32_t)t->swap.bytes_written : 0;
}
