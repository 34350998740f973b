/* libFuzzer target for the C reader alone (no Python in the loop, so far
 * more executions per second). Build and run via tests/fuzz/run_fuzz.sh.
 * Each input is read as is and with its CRCs repaired, like fuzz_bundle.py. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mt_bundle.h"

#define MAX_INPUT (1u << 20)

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void repair_crcs(uint8_t *buf, uint32_t len)
{
    if (len < MT_BUNDLE_HEADER_BYTES) return;
    wr32(buf + 16, mt_crc32(0, buf, 16));
    uint64_t pos = MT_BUNDLE_HEADER_BYTES;
    while (pos + MT_BUNDLE_SECTION_HEADER_BYTES <= len) {
        uint64_t payload = ((uint64_t)rd32(buf + pos + 4) + 3u) & ~(uint64_t)3u;
        uint64_t end = pos + MT_BUNDLE_SECTION_HEADER_BYTES + payload;
        if (end > len) break;
        uint32_t crc = mt_crc32(mt_crc32(0, buf + pos, 8), buf + pos + 12, (uint32_t)payload);
        wr32(buf + pos + 8, crc);
        pos = end;
    }
}

/* Touch everything an accepted bundle points at, so ASan sees any bad pointer. */
static uint32_t touch(const mt_bundle *b)
{
    uint32_t sum = 0, cursor = 0;
    mt_init_record rec;
    for (uint32_t i = 0; i < b->program.n_ops; i++) sum += b->program.ops[i].kind;
    for (uint32_t i = 0; i < b->program.n_tensors; i++) sum += b->program.tensors[i].nbytes;
    for (uint32_t i = 0; i < b->n_swap_events; i++) sum += b->swap_events[i].nbytes;
    while (mt_bundle_next_init(b, &cursor, &rec))
        if (rec.nbytes) sum += rec.bytes[0] + rec.bytes[rec.nbytes - 1];
    if (b->has_data) {
        uint64_t x_count = (uint64_t)b->data.n_samples * b->data.x_numel;
        uint64_t y_count = (uint64_t)b->data.n_samples * b->data.y_bytes;
        const uint8_t *x_bytes = (const uint8_t *)b->data.x;
        sum += x_bytes[x_count * 4 - 1] + b->data.y[y_count - 1];
    }
    sum += (uint8_t)b->model_json[b->model_json_len - 1];
    if (b->names_json_len) sum += (uint8_t)b->names_json[b->names_json_len - 1];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    /* malloc'd, exactly sized: ASan flags any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    mt_bundle bundle;
    char err[160];
    volatile uint32_t sink = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) repair_crcs(buf, (uint32_t)size);
        if (mt_bundle_open(buf, (uint32_t)size, &bundle, err, sizeof err) == MT_OK)
            sink += touch(&bundle);
        else if (err[0] == '\0')
            abort(); /* every refusal must say why */
    }
    (void)sink;
    free(buf);
    return 0;
}
