#include <string.h>
#include "checkpoint.h"
#include "mt_bundle.h"
#include "wire.h"

#define VERSION 1u
#define HEADER_BYTES 52u
#define MAX_PERSISTENT 256u
#define IO_BYTES 256u

static const char *const SLOTS[2] = {"ckpt_a.bin", "ckpt_b.bin"};
static const char TEMP[] = "ckpt.tmp";

static void encode_header(uint8_t *h, const checkpoint_info *info, uint32_t n_tensors)
{
    const uint32_t words[12] = {VERSION, info->seq, info->bundle_crc, info->data_crc, info->iteration,
                                info->epoch, info->target_epochs, info->target_iterations,
                                info->per_epoch, info->checkpoint_every, info->state, n_tensors};
    memcpy(h, "MTCK", 4);
    for (int i = 0; i < 12; i++) put_u32(h + 4 + 4 * i, words[i]);
}

static void decode_header(const uint8_t *h, checkpoint_info *info)
{
    uint32_t *fields[10] = {&info->seq, &info->bundle_crc, &info->data_crc, &info->iteration,
                            &info->epoch, &info->target_epochs, &info->target_iterations,
                            &info->per_epoch, &info->checkpoint_every, &info->state};
    for (int i = 0; i < 10; i++) *fields[i] = get_u32(h + 8 + 4 * i);
}

/* Checks a slot's CRC and framing -> 1 and its header, else 0. */
static int slot_valid(const char *name, checkpoint_info *info)
{
    flash_file f;
    uint8_t buf[IO_BYTES];
    if (flash_open(&f, name) != 0) return 0;
    int32_t len = flash_length(&f);
    int ok = len >= (int32_t)(HEADER_BYTES + 4) && flash_pread(&f, 0, buf, HEADER_BYTES) == 0
             && memcmp(buf, "MTCK", 4) == 0 && get_u32(buf + 4) == VERSION;
    uint32_t crc = 0, body = ok ? (uint32_t)len - 4 : 0, stored = 0;
    for (uint32_t off = 0; ok && off < body; off += IO_BYTES) {
        uint32_t n = body - off < IO_BYTES ? body - off : IO_BYTES;
        ok = flash_pread(&f, off, buf, n) == 0;
        crc = mt_crc32(crc, buf, n);
    }
    ok = ok && flash_pread(&f, body, buf, 4) == 0 && (stored = get_u32(buf)) == crc;
    if (ok) ok = flash_pread(&f, 0, buf, HEADER_BYTES) == 0;
    if (ok) decode_header(buf, info);
    flash_close(&f);
    return ok;
}

static uint32_t persistent_ids(const trainer *t, uint32_t *ids)
{
    uint32_t cursor = 0, n = 0;
    mt_init_record rec;
    while (n < MAX_PERSISTENT && mt_bundle_next_init(&t->bundle, &cursor, &rec)) {
        uint32_t i = n++;
        while (i > 0 && ids[i - 1] > rec.tensor) {  /* insertion sort: sorted ids */
            ids[i] = ids[i - 1];
            i--;
        }
        ids[i] = rec.tensor;
    }
    return n;
}

/* Appends n bytes to f at *off and to the running CRC. */
static int emit(flash_file *f, uint32_t *off, uint32_t *crc, const uint8_t *bytes, uint32_t n)
{
    if (flash_pwrite(f, *off, bytes, n) != 0) return -1;
    *crc = mt_crc32(*crc, bytes, n);
    *off += n;
    return 0;
}

static int emit_tensor(trainer *t, flash_file *f, uint32_t *off, uint32_t *crc, uint32_t tid)
{
    uint8_t buf[IO_BYTES];
    uint32_t nbytes = trainer_tensor_bytes(t, tid);
    put_u32(buf, tid);
    put_u32(buf + 4, nbytes);
    if (emit(f, off, crc, buf, 8) != 0) return -1;
    for (uint32_t at = 0; at < nbytes; at += IO_BYTES) {
        uint32_t n = nbytes - at < IO_BYTES ? nbytes - at : IO_BYTES;
        if (trainer_tensor_io(t, tid, at, buf, n, 0) != 0 || emit(f, off, crc, buf, n) != 0) return -1;
    }
    static const uint8_t pad[4];
    return emit(f, off, crc, pad, (4 - nbytes % 4) % 4);
}

static int write_file(trainer *t, const checkpoint_info *info)
{
    uint32_t ids[MAX_PERSISTENT], n = persistent_ids(t, ids), off = 0, crc = 0;
    uint8_t header[HEADER_BYTES];
    flash_file f;
    if (flash_create(&f, TEMP) != 0) return -1;
    encode_header(header, info, n);
    int status = emit(&f, &off, &crc, header, HEADER_BYTES);
    for (uint32_t i = 0; status == 0 && i < n; i++) status = emit_tensor(t, &f, &off, &crc, ids[i]);
    put_u32(header, crc);
    if (status == 0) status = flash_pwrite(&f, off, header, 4);
    if (flash_close(&f) != 0) status = -1;
    return status;
}

int checkpoint_write(trainer *t, checkpoint_info *info)
{
    checkpoint_info slot[2];
    int valid[2] = {slot_valid(SLOTS[0], &slot[0]), slot_valid(SLOTS[1], &slot[1])};
    int victim = !valid[0] ? 0 : !valid[1] ? 1 : (slot[0].seq < slot[1].seq ? 0 : 1);
    uint32_t top = 0;
    for (int i = 0; i < 2; i++)
        if (valid[i] && slot[i].seq > top) top = slot[i].seq;
    info->seq = top + 1;
    if (write_file(t, info) != 0) {
        flash_remove(TEMP);
        return -1;
    }
    return flash_install(TEMP, SLOTS[victim]);
}

const char *checkpoint_newest(uint32_t bundle_crc, checkpoint_info *info)
{
    checkpoint_info slot[2];
    int valid[2];
    for (int i = 0; i < 2; i++) valid[i] = slot_valid(SLOTS[i], &slot[i]) && slot[i].bundle_crc == bundle_crc;
    int best = valid[0] && (!valid[1] || slot[0].seq > slot[1].seq) ? 0 : valid[1] ? 1 : -1;
    if (best < 0) return 0;
    *info = slot[best];
    return SLOTS[best];
}

int checkpoint_restore(trainer *t, const char *slot)
{
    flash_file f;
    uint8_t buf[IO_BYTES];
    if (flash_open(&f, slot) != 0) return -1;
    int status = flash_pread(&f, 0, buf, HEADER_BYTES);
    uint32_t n = status == 0 ? get_u32(buf + 48) : 0, off = HEADER_BYTES;
    for (uint32_t i = 0; status == 0 && i < n; i++) {
        status = flash_pread(&f, off, buf, 8);
        uint32_t tid = get_u32(buf), nbytes = get_u32(buf + 4);
        if (status == 0 && nbytes != trainer_tensor_bytes(t, tid)) status = -1;
        off += 8;
        for (uint32_t at = 0; status == 0 && at < nbytes; at += IO_BYTES) {
            uint32_t k = nbytes - at < IO_BYTES ? nbytes - at : IO_BYTES;
            status = flash_pread(&f, off + at, buf, k);
            if (status == 0) status = trainer_tensor_io(t, tid, at, buf, k, 1);
        }
        off += nbytes + (4 - nbytes % 4) % 4;
    }
    flash_close(&f);
    return status;
}
