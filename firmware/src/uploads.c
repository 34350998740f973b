#include <string.h>
#include "uploads.h"
#include "mt_bundle.h"
#include "reply_error.h"
#include "wire.h"

void uploads_init(upload_state *up)
{
    memset(up, 0, sizeof(*up));
    up->file.handle = -1;
}

void uploads_abandon(upload_state *up)
{
    flash_close(&up->file);
    flash_remove(FLASH_UPLOAD_TEMP);
    uploads_init(up);
}

static void begin(upload_state *up, link_state *link, const link_msg *msg)
{
    uint8_t kind = msg->payload[0];
    uint32_t total = get_u32(msg->payload + 1), crc = get_u32(msg->payload + 5);
    if (!up->active || up->gap || kind != up->kind || total != up->total || crc != up->crc_expected) {
        uploads_abandon(up);
        up->active = 1;
        up->kind = kind;
        up->total = total;
        up->crc_expected = crc;
        up->storage_error = flash_create(&up->file, FLASH_UPLOAD_TEMP) != 0;
    }
    uint8_t out[9];
    out[0] = kind;
    put_u32(out + 1, crc);
    put_u32(out + 5, up->held);
    link_reply(link, msg, MSG_UPLOAD_STATUS, out, sizeof(out));
}

static void chunk(upload_state *up, const link_msg *msg)
{
    uint32_t offset = get_u32(msg->payload), len = msg->len - 4u;
    if (!up->active || offset > up->held) {
        up->gap = 1;
        return;
    }
    uint32_t skip = up->held - offset;
    if (skip >= len) return;  /* bytes already held */
    uint32_t fresh = len - skip;
    if (up->held + fresh > up->total) {
        up->gap = 1;
        return;
    }
    const uint8_t *data = msg->payload + 4 + skip;
    if (flash_pwrite(&up->file, up->held, data, fresh) != 0) up->storage_error = 1;
    up->crc = mt_crc32(up->crc, data, fresh);
    up->held += fresh;
}

static uint8_t verdict(const upload_state *up, uint8_t kind)
{
    if (!up->active || up->kind != kind) return REJECT_NO_UPLOAD;
    if (up->gap || up->held != up->total) return REJECT_SIZE;
    if (up->crc != up->crc_expected) return REJECT_CRC;
    return UPLOAD_ACCEPTED;
}

static void end(upload_state *up, link_state *link, const link_msg *msg, upload_accept_fn accept,
                void (*log_error)(const char *text))
{
    uint8_t kind = msg->payload[0], reason = verdict(up, kind);
    uint32_t held = up->held, crc = up->crc;
    char text[160] = "";
    if (up->active) {
        if (flash_close(&up->file) != 0) up->storage_error = 1;
        if (reason == UPLOAD_ACCEPTED && up->storage_error) {
            reason = REJECT_STORAGE;
            strcpy(text, "upload rejected: cannot write " FLASH_UPLOAD_TEMP);
        } else if (reason == UPLOAD_ACCEPTED) {
            reason = accept(kind, text, sizeof(text));
        }
        if (reason != UPLOAD_ACCEPTED) flash_remove(FLASH_UPLOAD_TEMP);
    }
    if (reason != REJECT_NO_UPLOAD) uploads_init(up);  /* the next BEGIN starts afresh */
    if (text[0]) log_error(text);
    uint8_t out[10];
    out[0] = kind;
    out[1] = reason;
    put_u32(out + 2, held);
    put_u32(out + 6, crc);
    link_reply(link, msg, MSG_UPLOAD_RESULT, out, sizeof(out));
}

int uploads_handle(upload_state *up, link_state *link, const link_msg *msg, upload_accept_fn accept,
                   void (*log_error)(const char *text))
{
    switch (msg->type) {
    case MSG_UPLOAD_BEGIN:
        if (msg->len != 9) reply_error(link, msg, ERR_BAD_PAYLOAD, "bad upload payload");
        else begin(up, link, msg);
        return 1;
    case MSG_UPLOAD_CHUNK:
        if (msg->len < 4) reply_error(link, msg, ERR_BAD_PAYLOAD, "bad upload payload");
        else chunk(up, msg);
        return 1;
    case MSG_UPLOAD_END:
        if (msg->len != 1) reply_error(link, msg, ERR_BAD_PAYLOAD, "bad upload payload");
        else end(up, link, msg, accept, log_error);
        return 1;
    default:
        return 0;
    }
}
