/* The board end of protocol/link.py: stop-and-wait ARQ with ACK/NAK, SYNC'd
 * random sequence numbers, duplicate detection and a small inbox. Poll-driven,
 * no threads; send blocks until ACKed or the retry budget is spent. */
#ifndef LINK_H
#define LINK_H

#include <stdint.h>
#include "protocol_defs.h"

#define LINK_INBOX 2

typedef struct {
    uint8_t type, flags;
    uint16_t len;
    uint8_t payload[FRAME_MAX_PAYLOAD];
} link_msg;

typedef struct {
    uint8_t rx[FRAME_MAX_ENCODED];
    uint32_t rx_len;
    int rx_overflow;
    uint32_t last_rx_ms;
    uint16_t tx_seq;
    int tx_sync;
    int32_t awaiting;        /* seq of our frame in flight, -1 none */
    int acked, resend_now;
    int32_t peer_seq;        /* seq of the last data frame accepted, -1 none */
    int peer_sync;
    link_msg inbox[LINK_INBOX];
    uint32_t inbox_head, inbox_count;
} link_state;

void link_init(link_state *link, uint16_t first_seq);
/* Reads what the UART holds; returns 1 and fills *out when a message is waiting. */
int link_poll(link_state *link, link_msg *out);
/* 0 once ACKed, -1 when the peer stopped answering (the seq advances anyway). */
int link_send(link_state *link, uint8_t type, uint8_t flags, const uint8_t *payload, uint32_t len);
int link_reply(link_state *link, const link_msg *request, uint8_t type, const uint8_t *payload, uint32_t len);
int link_event(link_state *link, uint8_t type, const uint8_t *payload, uint32_t len);

static inline int link_is_request(const link_msg *m) { return (m->flags & LINK_FLAG_REQUEST) != 0; }

#endif
