#include <string.h>
#include "downloads.h"
#include "checkpoint.h"
#include "flash.h"
#include "model_params.h"
#include "reply_error.h"
#include "wire.h"

#define IO_BYTES 256u

static const char *const SNAPSHOT_FILES[3] = {"", "dl_weights.tmp", "dl_checkpoint.tmp"};

void downloads_forget(downloads_state *d)
{
    for (int i = 1; i < 3; i++) {
        d->snapshots[i].ready = 0;
        flash_remove(SNAPSHOT_FILES[i]);
    }
}

/* The tensor a param's k-th piece lives in: its own for k = 0 when untiled,
 * else its k-th chunk (board/weights_blob.py joins them the same way); -1 past the end. */
static int64_t param_piece(trainer *t, uint32_t index, uint32_t id, uint32_t k)
{
    int64_t chunk = model_param_chunk(t->bundle.model_json, t->bundle.model_json_len, index, 0);
    if (chunk < 0) return k == 0 ? (int64_t)id : -1;
    return k == 0 ? chunk : model_param_chunk(t->bundle.model_json, t->bundle.model_json_len, index, k);
}

static int copy_tensor(trainer *t, uint32_t id, flash_file *f, uint32_t *off, uint32_t *crc)
{
    uint8_t buf[IO_BYTES];
    uint32_t nbytes = trainer_tensor_bytes(t, id);
    for (uint32_t at = 0; at < nbytes; at += IO_BYTES) {
        uint32_t k = nbytes - at < IO_BYTES ? nbytes - at : IO_BYTES;
        if (trainer_tensor_io(t, id, at, buf, k, 0) != 0 || flash_pwrite(f, *off, buf, k) != 0)
            return -1;
        *crc = mt_crc32(*crc, buf, k);
        *off += k;
    }
    return 0;
}

static int snapshot_weights(trainer *t, flash_file *f, uint32_t *off, uint32_t *crc)
{
    uint32_t ids[MODEL_MAX_PARAMS];
    uint8_t buf[8];
    int32_t n = model_param_ids(t->bundle.model_json, t->bundle.model_json_len, ids, MODEL_MAX_PARAMS);
    if (n < 0) return -1;
    for (int32_t i = 0; i < n; i++) {
        uint32_t nbytes = 0;
        int64_t piece;
        for (uint32_t k = 0; (piece = param_piece(t, (uint32_t)i, ids[i], k)) >= 0; k++)
            nbytes += trainer_tensor_bytes(t, (uint32_t)piece);
        put_u32(buf, ids[i]);
        put_u32(buf + 4, nbytes);
        if (flash_pwrite(f, *off, buf, 8) != 0) return -1;
        *crc = mt_crc32(*crc, buf, 8);
        *off += 8;
        for (uint32_t k = 0; (piece = param_piece(t, (uint32_t)i, ids[i], k)) >= 0; k++)
            if (copy_tensor(t, (uint32_t)piece, f, off, crc) != 0) return -1;
    }
    return 0;
}

static int snapshot_checkpoint(trainer *t, flash_file *f, uint32_t *off, uint32_t *crc)
{
    checkpoint_info info;
    flash_file src;
    uint8_t buf[IO_BYTES];
    const char *slot = checkpoint_newest(t->bundle_crc, &info);
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
static int take_snapshot(downloads_state *d, trainer *t, uint8_t what)
{
    flash_file f;
    uint32_t off = 0, crc = 0;
    if (flash_create(&f, SNAPSHOT_FILES[what]) != 0) return -1;
    int status = what == WHAT_WEIGHTS ? snapshot_weights(t, &f, &off, &crc) : snapshot_checkpoint(t, &f, &off, &crc);
    flash_close(&f);
    d->snapshots[what].ready = status == 0;
    d->snapshots[what].total = off;
    d->snapshots[what].crc = crc;
    return status;
}

void downloads_serve(downloads_state *d, link_state *link, trainer *t, const link_msg *msg)
{
    uint8_t what = msg->payload[0];
    uint32_t offset = get_u32(msg->payload + 1), max_len = get_u16(msg->payload + 5);
    if (!t) return reply_error(link, msg, ERR_NOT_FOUND, "no bundle: upload one first");
    if (what != WHAT_WEIGHTS && what != WHAT_CHECKPOINT)
        return reply_error(link, msg, ERR_NOT_FOUND, "nothing to download for what=%u", what);
    if (offset == 0 || !d->snapshots[what].ready) {
        int status = take_snapshot(d, t, what);
        if (status > 0) return reply_error(link, msg, ERR_NOT_FOUND, "no checkpoint of the current bundle");
        if (status < 0) return reply_error(link, msg, ERR_STORAGE, "cannot snapshot what=%u", what);
    }
    download_snapshot *s = &d->snapshots[what];
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
    if (!ok) return reply_error(link, msg, ERR_STORAGE, "cannot read the snapshot");
    link_reply(link, msg, MSG_DATA, out, 13u + n);
}
