/* Helpers the C fuzz targets share: little-endian fields, the bundle's
 * section walk, and CRC repair (random mutations almost never carry a
 * matching CRC; without repair they would only ever test the CRC check). */
#ifndef FUZZ_SECTIONS_H
#define FUZZ_SECTIONS_H

#include <stdint.h>
#include <string.h>
#include "mt_bundle.h"

static inline uint32_t fz_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void fz_wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Payload [*start, *start + *length) of the section tagged `tag`; 0 if absent. */
static inline int fz_find_section(const uint8_t *buf, size_t len, const char *tag,
                                  size_t *start, uint32_t *length)
{
    size_t pos = MT_BUNDLE_HEADER_BYTES;
    while (pos + MT_BUNDLE_SECTION_HEADER_BYTES <= len) {
        uint32_t payload = fz_rd32(buf + pos + 4);
        size_t end = pos + MT_BUNDLE_SECTION_HEADER_BYTES + (((uint64_t)payload + 3u) & ~(uint64_t)3u);
        if (end > len) return 0;
        if (memcmp(buf + pos, tag, 4) == 0) {
            *start = pos + MT_BUNDLE_SECTION_HEADER_BYTES;
            *length = payload;
            return 1;
        }
        pos = end;
    }
    return 0;
}

static inline void fz_repair_crcs(uint8_t *buf, size_t len)
{
    if (len < MT_BUNDLE_HEADER_BYTES) return;
    fz_wr32(buf + 16, mt_crc32(0, buf, 16));
    size_t pos = MT_BUNDLE_HEADER_BYTES;
    while (pos + MT_BUNDLE_SECTION_HEADER_BYTES <= len) {
        uint64_t payload = ((uint64_t)fz_rd32(buf + pos + 4) + 3u) & ~(uint64_t)3u;
        uint64_t end = pos + MT_BUNDLE_SECTION_HEADER_BYTES + payload;
        if (end > len) break;
        uint32_t crc = mt_crc32(mt_crc32(0, buf + pos, 8), buf + pos + 12, (uint32_t)payload);
        fz_wr32(buf + pos + 8, crc);
        pos = (size_t)end;
    }
}

#endif
