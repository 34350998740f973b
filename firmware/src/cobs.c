/* Each block: a code byte N and N-1 non-zero bytes; a code below 0xFF means a
 * zero followed, except after the last block. */
#include "cobs.h"

#define MAX_RUN 254u

uint32_t cobs_encode(const uint8_t *src, uint32_t n, uint8_t *dst)
{
    uint32_t out = 0, start = 0;
    for (;;) {
        uint32_t end = start;
        while (end < n && src[end] != 0) end++;
        while (end - start >= MAX_RUN) {
            dst[out++] = 0xFF;
            for (uint32_t i = 0; i < MAX_RUN; i++) dst[out++] = src[start + i];
            start += MAX_RUN;
        }
        dst[out++] = (uint8_t)(end - start + 1);
        for (uint32_t i = start; i < end; i++) dst[out++] = src[i];
        if (end == n) return out;
        start = end + 1;
    }
}

int32_t cobs_decode(const uint8_t *src, uint32_t n, uint8_t *dst, uint32_t cap)
{
    uint32_t index = 0, out = 0;
    while (index < n) {
        uint32_t code = src[index];
        if (code == 0 || index + code > n) return -1;
        for (uint32_t i = index + 1; i < index + code; i++) {
            if (src[i] == 0 || out >= cap) return -1;
            dst[out++] = src[i];
        }
        index += code;
        if (code != 0xFF && index < n) {
            if (out >= cap) return -1;
            dst[out++] = 0;
        }
    }
    return (int32_t)out;
}
