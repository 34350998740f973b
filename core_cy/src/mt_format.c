/* printf-like formatting into a bounded buffer (see mt_format.h). */
#include "mt_format.h"

typedef struct {
    char *out;
    uint32_t len;   /* buffer size, including the NUL */
    uint32_t used;
} sink;

static void put(sink *s, char c)
{
    if (s->used + 1 < s->len) s->out[s->used++] = c;
}

static void put_string(sink *s, const char *text)
{
    while (*text) put(s, *text++);
}

/* Digits of value in base 10 or 16, at least `width` of them (zero-padded). */
static void put_number(sink *s, unsigned long long value, unsigned base, int width)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    while (n < width && n < (int)sizeof digits) digits[n++] = '0';
    while (n) put(s, digits[--n]);
}

/* One conversion after '%'; returns the format position after it. */
static const char *convert(sink *s, const char *fmt, va_list *args)
{
    int width = 0;
    if (*fmt == '0') fmt++;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    switch (*fmt) {
    case 'u': put_number(s, va_arg(*args, unsigned), 10, width); break;
    case 'x': put_number(s, va_arg(*args, unsigned), 16, width); break;
    case 'd': {
        int value = va_arg(*args, int);
        if (value < 0) put(s, '-');
        put_number(s, value < 0 ? 0ull - (unsigned long long)value : (unsigned long long)value, 10, width);
        break;
    }
    case 'l':
        if (fmt[1] == 'l' && fmt[2] == 'u') {
            put_number(s, va_arg(*args, unsigned long long), 10, width);
            return fmt + 3;
        }
        put(s, '%');
        return fmt;
    case 's': put_string(s, va_arg(*args, const char *)); break;
    case '%': put(s, '%'); break;
    case '\0': return fmt;
    default: put(s, '%'); put(s, *fmt); break;
    }
    return fmt + 1;
}

void mt_vformat(char *out, uint32_t len, const char *fmt, va_list args)
{
    sink s = {out, len, 0};
    va_list copy;
    if (len == 0) return;
    va_copy(copy, args);
    while (*fmt) {
        if (*fmt != '%') put(&s, *fmt++);
        else fmt = convert(&s, fmt + 1, &copy);
    }
    va_end(copy);
    out[s.used] = '\0';
}
