/* A small message formatter for the core's one-line errors, so no target
 * needs the C library's printf family (stdio, vsnprintf: kilobytes of flash).
 * Conversions: %u %d (unsigned / int), %llu (unsigned long long),
 * %x and %08x (unsigned, hex, optional zero-padded width), %s, %%. */
#ifndef MT_FORMAT_H
#define MT_FORMAT_H

#include <stdarg.h>
#include <stdint.h>

/* Writes at most len - 1 characters and a terminating NUL (nothing when
 * len == 0); the output is cut, never overrun. */
void mt_vformat(char *out, uint32_t len, const char *fmt, va_list args);

#endif
