/* Same rules and defaults as protocol/link.py (docs/protocol.md section 2). */
#include <string.h>
#include "link.h"
#include "clock.h"
#include "cobs.h"
#include "uart.h"
#include "wire.h"
#include "mt_bundle.h"

#define ACK_TIMEOUT_MS 200u
#define GAP_TIMEOUT_MS (ACK_TIMEOUT_MS / 4u)
#define RETRIES 8
#define MAX_ATTEMPTS 64

void link_init(link_state *link, uint16_t first_seq)
{
    memset(link, 0, sizeof(*link));
    link->tx_seq = first_seq;
    link->tx_sync = 1;
    link->awaiting = -1;
    link->peer_seq = -1;
    link->last_rx_ms = clock_ms();
}

static void write_frame(uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *payload, uint32_t len)
{
    uint8_t body[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + FRAME_CRC_SIZE];
    uint8_t wire[FRAME_MAX_ENCODED + 2];
    body[0] = type;
    body[1] = flags;
    put_u16(body + 2, seq);
    put_u16(body + 4, (uint16_t)len);
    if (len) memcpy(body + FRAME_HEADER_SIZE, payload, len);
    put_u32(body + FRAME_HEADER_SIZE + len, mt_crc32(0, body, FRAME_HEADER_SIZE + len));
    wire[0] = 0;
    uint32_t n = cobs_encode(body, FRAME_HEADER_SIZE + len + FRAME_CRC_SIZE, wire + 1);
    wire[n + 1] = 0;
    uart_write(wire, n + 2);
}

static void on_damaged(link_state *link)
{
    if (link->peer_seq < 0) write_frame(LINK_NAK, 0, 0, 0, 0);
    else write_frame(LINK_NAK, LINK_FLAG_SYNC, (uint16_t)link->peer_seq, 0, 0);
    if (link->awaiting >= 0) link->resend_now = 1;  /* the garbage may have been our ACK */
}

static void on_nak(link_state *link, uint8_t flags, uint16_t seq)
{
    if (link->awaiting < 0) return;
    if ((flags & LINK_FLAG_SYNC) && seq == (uint16_t)link->awaiting && !link->tx_sync) link->acked = 1;
    else link->resend_now = 1;
}

static void on_data(link_state *link, const uint8_t *body, uint32_t len)
{
    uint8_t flags = body[1];
    uint16_t seq = get_u16(body + 2);
    int sync = (flags & LINK_FLAG_SYNC) != 0;
    if (link->peer_seq == (int32_t)seq && link->peer_sync == sync) {
        write_frame(LINK_ACK, 0, seq, 0, 0);  /* duplicate: ACK again, deliver nothing */
        return;
    }
    if (link->inbox_count == LINK_INBOX) return;  /* no ACK: the sender retries later */
    link->peer_seq = seq;
    link->peer_sync = sync;
    write_frame(LINK_ACK, 0, seq, 0, 0);
    link_msg *m = &link->inbox[(link->inbox_head + link->inbox_count++) % LINK_INBOX];
    m->type = body[0];
    m->flags = flags;
    m->len = (uint16_t)(len - FRAME_HEADER_SIZE);
    memcpy(m->payload, body + FRAME_HEADER_SIZE, m->len);
}

static void on_chunk(link_state *link)
{
    uint8_t body[FRAME_HEADER_SIZE + FRAME_MAX_PAYLOAD + FRAME_CRC_SIZE];
    int32_t n = link->rx_overflow ? -1 : cobs_decode(link->rx, link->rx_len, body, sizeof(body));
    link->rx_len = 0;
    link->rx_overflow = 0;
    if (n < FRAME_HEADER_SIZE + FRAME_CRC_SIZE) return on_damaged(link);
    uint32_t content = (uint32_t)n - FRAME_CRC_SIZE;
    if (mt_crc32(0, body, content) != get_u32(body + content) || get_u16(body + 4) != content - FRAME_HEADER_SIZE)
        return on_damaged(link);
    uint16_t seq = get_u16(body + 2);
    if (body[0] == LINK_ACK) {
        if (link->awaiting == (int32_t)seq) link->acked = 1;
    } else if (body[0] == LINK_NAK) {
        on_nak(link, body[1], seq);
    } else {
        on_data(link, body, content);
    }
}

static void pump(link_state *link)
{
    int byte;
    int got = 0;
    while ((byte = uart_read_byte()) >= 0) {
        got = 1;
        if (byte == 0) {
            if (link->rx_len || link->rx_overflow) on_chunk(link);
        } else if (link->rx_len < sizeof(link->rx) && !link->rx_overflow) {
            link->rx[link->rx_len++] = (uint8_t)byte;
        } else {
            link->rx_overflow = 1;  /* too long to be a frame: drop until the next 0x00 */
            link->rx_len = 0;
        }
    }
    uint32_t now = clock_ms();
    if (got) {
        link->last_rx_ms = now;
    } else if ((link->rx_len || link->rx_overflow) && now - link->last_rx_ms > GAP_TIMEOUT_MS) {
        link->rx_len = 0;  /* the closing 0x00 was lost */
        link->rx_overflow = 0;
        on_damaged(link);
    }
}

int link_poll(link_state *link, link_msg *out)
{
    if (!link->inbox_count) pump(link);
    if (!link->inbox_count) return 0;
    *out = link->inbox[link->inbox_head];
    link->inbox_head = (link->inbox_head + 1) % LINK_INBOX;
    link->inbox_count--;
    return 1;
}

static int send_until_acked(link_state *link, uint8_t type, uint8_t flags, uint16_t seq,
                            const uint8_t *payload, uint32_t len)
{
    int timeouts = 0;
    for (int attempts = 1;; attempts++) {
        write_frame(type, flags, seq, payload, len);
        link->resend_now = 0;
        uint32_t start = clock_ms();
        while (!link->acked && !link->resend_now && clock_ms() - start < ACK_TIMEOUT_MS) pump(link);
        if (link->acked) return 0;
        if (!link->resend_now) timeouts++;
        if (timeouts > RETRIES || attempts >= MAX_ATTEMPTS) return -1;
    }
}

int link_send(link_state *link, uint8_t type, uint8_t flags, const uint8_t *payload, uint32_t len)
{
    uint16_t seq = link->tx_seq;
    if (link->tx_sync) flags |= LINK_FLAG_SYNC;
    link->awaiting = seq;
    link->acked = 0;
    int status = send_until_acked(link, type, flags, seq, payload, len);
    if (status == 0) link->tx_sync = 0;
    link->awaiting = -1;
    link->tx_seq = (uint16_t)(seq + 1);  /* even after a failure: the peer may have it */
    return status;
}

int link_reply(link_state *link, const link_msg *request, uint8_t type, const uint8_t *payload, uint32_t len)
{
    uint8_t tag = (uint8_t)(request->flags >> LINK_TAG_SHIFT);
    return link_send(link, type, (uint8_t)(LINK_FLAG_REPLY | (tag << LINK_TAG_SHIFT)), payload, len);
}

int link_event(link_state *link, uint8_t type, const uint8_t *payload, uint32_t len)
{
    return link_send(link, type, LINK_FLAG_EVENT, payload, len);
}
