#include <stdarg.h>
#include <stdio.h>
#include "reply_error.h"
#include "wire.h"

void reply_error(link_state *link, const link_msg *msg, uint16_t code, const char *fmt, ...)
{
    uint8_t out[FRAME_MAX_PAYLOAD];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf((char *)out + 2, sizeof(out) - 2, fmt, args);
    va_end(args);
    if (n < 0) n = 0;
    if (n > (int)sizeof(out) - 3) n = sizeof(out) - 3;
    put_u16(out, code);
    if (link_is_request(msg)) link_reply(link, msg, MSG_ERROR, out, 2u + (uint32_t)n);
}
