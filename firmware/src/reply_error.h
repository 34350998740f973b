/* ERROR replies (code u16 + text cut to one frame), shared by the agent's services. */
#ifndef REPLY_ERROR_H
#define REPLY_ERROR_H

#include <stdint.h>
#include "link.h"

/* Answers msg with ERROR(code, printf-style text) if msg is a request. */
void reply_error(link_state *link, const link_msg *msg, uint16_t code, const char *fmt, ...);

#endif
