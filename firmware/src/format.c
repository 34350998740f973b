/* snprintf/vsnprintf for the firmware: newlib-nano's pull in malloc (for
 * growable strings), and this firmware links no heap. Supports what the core
 * and the agent print: %s %.*s %d %u %x with l/ll, zero padding and width. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    char *out;
    size_t cap, len;
} sink;

static void put(sink *s, char c)
{
    if (s->len + 1 < s->cap) s->out[s->len] = c;
    s->len++;
}

static void put_number(sink *s, uint64_t v, int negative, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative) digits[n++] = '-';
    for (int i = n; i < width; i++) put(s, pad);
    while (n) put(s, digits[--n]);
}

static uint64_t unsigned_arg(va_list *args, int longs)
{
    if (longs >= 2) return va_arg(*args, unsigned long long);
    if (longs == 1) return va_arg(*args, unsigned long);
    return va_arg(*args, unsigned int);
}

static int64_t signed_arg(va_list *args, int longs)
{
    if (longs >= 2) return va_arg(*args, long long);
    if (longs == 1) return va_arg(*args, long);
    return va_arg(*args, int);
}

static void put_string(sink *s, const char *text, int precision)
{
    if (!text) text = "(null)";
    for (int i = 0; text[i] && (precision < 0 || i < precision); i++) put(s, text[i]);
}

/* One conversion after '%' -> the format pointer past it. */
static const char *convert(sink *s, const char *f, va_list *args)
{
    char pad = ' ';
    int width = 0, precision = -1, longs = 0;
    if (*f == '0') pad = *f++;
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    if (*f == '.' && f[1] == '*') {
        precision = va_arg(*args, int);
        f += 2;
    }
    while (*f == 'l') longs++, f++;
    switch (*f) {
    case 's': put_string(s, va_arg(*args, const char *), precision); break;
    case 'd': {
        int64_t v = signed_arg(args, longs);
        put_number(s, v < 0 ? (uint64_t)(-(v + 1)) + 1u : (uint64_t)v, v < 0, 10, width, pad);
        break;
    }
    case 'u': put_number(s, unsigned_arg(args, longs), 0, 10, width, pad); break;
    case 'x': put_number(s, unsigned_arg(args, longs), 0, 16, width, pad); break;
    case '%': put(s, '%'); break;
    default: put(s, '?'); break;
    }
    return *f ? f + 1 : f;
}

int vsnprintf(char *out, size_t cap, const char *fmt, va_list args)
{
    sink s = {out, cap, 0};
    va_list ap;
    va_copy(ap, args);
    while (*fmt) {
        if (*fmt != '%') put(&s, *fmt++);
        else fmt = convert(&s, fmt + 1, &ap);
    }
    va_end(ap);
    if (cap) out[s.len < cap ? s.len : cap - 1] = '\0';
    return (int)s.len;
}

int snprintf(char *out, size_t cap, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(out, cap, fmt, args);
    va_end(args);
    return n;
}
