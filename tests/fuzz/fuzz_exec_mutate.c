/* Structure-aware mutator for fuzz_exec_c.c: starting from valid bundles, it
 * changes one field of an op (kind, phase, tensor id, int or float param), a
 * tensor (offset, size), a swap event, or the PROG header; or duplicates,
 * deletes or copies whole op records; then repairs every CRC so the mutation
 * reaches the validator instead of the checksum test. One time in eight it
 * falls back to libFuzzer's byte-level mutation. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "fuzz_sections.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#define OP_BYTES 116u
#define OP_T 4u       /* byte offsets inside an mt_op record */
#define OP_P 36u
#define OP_F 100u
#define TENSOR_BYTES 8u
#define EVENT_BYTES 20u
#define PROG_N_OPS 0u
#define PROG_N_TENSORS 4u

static uint32_t next_random(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static uint32_t below(uint32_t *rng, uint32_t n)
{
    return n ? next_random(rng) % n : 0;
}

typedef struct {
    uint8_t *buf;
    size_t size;
    size_t prog, ops, tens, swap;       /* payload starts */
    uint32_t ops_len, tens_len, swap_len, prog_len;
    int has_swap;
} sections;

static int locate(uint8_t *buf, size_t size, sections *s)
{
    s->buf = buf;
    s->size = size;
    s->has_swap = fz_find_section(buf, size, "SWAP", &s->swap, &s->swap_len);
    return fz_find_section(buf, size, "PROG", &s->prog, &s->prog_len) && s->prog_len >= 52 &&
           fz_find_section(buf, size, "OPS ", &s->ops, &s->ops_len) && s->ops_len >= OP_BYTES &&
           fz_find_section(buf, size, "TENS", &s->tens, &s->tens_len) && s->tens_len >= TENSOR_BYTES;
}

static uint32_t n_ops(const sections *s) { return s->ops_len / OP_BYTES; }
static uint32_t n_tensors(const sections *s) { return s->tens_len / TENSOR_BYTES; }
static uint8_t *op_at(const sections *s, uint32_t i) { return s->buf + s->ops + (size_t)i * OP_BYTES; }

/* An int near the old one, a small or extreme value, or one another op uses. */
static int32_t int_value(const sections *s, uint32_t *rng, int32_t old)
{
    static const int32_t special[] = {0, 1, 2, 3, 4, -1, -2, 7, 8, 16, 65536, INT32_MAX, INT32_MIN};
    switch (below(rng, 6)) {
    case 0: return (int32_t)((uint32_t)old + 1u); /* wraps on purpose */
    case 1: return (int32_t)((uint32_t)old - 1u);
    case 2: return special[below(rng, sizeof special / sizeof special[0])];
    case 3: return (int32_t)below(rng, 64);
    case 4: return (int32_t)((uint32_t)old << 1);
    default: return (int32_t)fz_rd32(op_at(s, below(rng, n_ops(s))) + OP_P + 4 * below(rng, 16));
    }
}

static int32_t tensor_id(const sections *s, uint32_t *rng)
{
    switch (below(rng, 4)) {
    case 0: return -1;
    case 1: return (int32_t)fz_rd32(op_at(s, below(rng, n_ops(s))) + OP_T + 4 * below(rng, 8));
    default: return (int32_t)below(rng, n_tensors(s) + 1);
    }
}

static float float_value(uint32_t *rng, float old)
{
    static const float special[] = {0.0f, 1.0f, -1.0f, 0.5f, 0.999f, 1e-40f, 1e30f, -1e30f, 1e-8f};
    switch (below(rng, 5)) {
    case 0: return NAN;
    case 1: return below(rng, 2) ? INFINITY : -INFINITY;
    case 2: return old * 2.0f;
    default: return special[below(rng, sizeof special / sizeof special[0])];
    }
}

static void mutate_op_field(const sections *s, uint32_t *rng)
{
    static const uint16_t kinds[] = {1, 2, 3, 10, 11, 12, 20, 21, 22, 23, 30, 31, 40, 41, 42,
                                     50, 51, 60, 61, 70, 71, 72, 73, 74, 75, 80, 81};
    uint8_t *op = op_at(s, below(rng, n_ops(s)));
    uint32_t k;
    float f;
    switch (below(rng, 8)) {
    case 0:
        k = kinds[below(rng, sizeof kinds / sizeof kinds[0])];
        op[0] = (uint8_t)k; op[1] = (uint8_t)(k >> 8);
        break;
    case 1: op[2] = (uint8_t)below(rng, 5); break;
    case 2: case 3: case 4:
        fz_wr32(op + OP_T + 4 * below(rng, 8), (uint32_t)tensor_id(s, rng));
        break;
    case 5: case 6:
        k = OP_P + 4 * below(rng, 16);
        fz_wr32(op + k, (uint32_t)int_value(s, rng, (int32_t)fz_rd32(op + k)));
        break;
    default:
        k = OP_F + 4 * below(rng, 4);
        memcpy(&f, op + k, 4);
        f = float_value(rng, f);
        memcpy(op + k, &f, 4);
        break;
    }
}

static void copy_op(const sections *s, uint32_t *rng)
{
    uint32_t from = below(rng, n_ops(s)), to = below(rng, n_ops(s));
    memmove(op_at(s, to), op_at(s, from), OP_BYTES);
}

/* Inserts a copy of op i before it (grow) or deletes it, fixing the OPS length,
 * PROG's op count and the header's total length. Swap events keep their op
 * indices: shifting them is just another structural mutation. */
static size_t resize_ops(sections *s, uint32_t *rng, size_t max_size, int grow)
{
    uint32_t count = n_ops(s), i = below(rng, count);
    if (grow ? s->size + OP_BYTES > max_size : count < 2) return s->size;
    uint8_t *at = op_at(s, i);
    size_t tail = s->size - (size_t)(at - s->buf);
    if (grow) memmove(at + OP_BYTES, at, tail);
    else memmove(at, at + OP_BYTES, tail - OP_BYTES);
    s->size = grow ? s->size + OP_BYTES : s->size - OP_BYTES;
    count = grow ? count + 1 : count - 1;
    fz_wr32(s->buf + s->ops - 8, count * OP_BYTES);
    fz_wr32(s->buf + s->prog + PROG_N_OPS, count);
    fz_wr32(s->buf + 12, (uint32_t)s->size);
    return s->size;
}

static void mutate_tensor(const sections *s, uint32_t *rng)
{
    uint8_t *t = s->buf + s->tens + (size_t)below(rng, n_tensors(s)) * TENSOR_BYTES;
    const uint8_t *other = s->buf + s->tens + (size_t)below(rng, n_tensors(s)) * TENSOR_BYTES;
    uint32_t field = 4 * below(rng, 2), old = fz_rd32(t + field);
    uint32_t choices[] = {old + 4, old - 4, old * 2, old / 2 & ~3u, 0, fz_rd32(other + field),
                          fz_rd32(other) + fz_rd32(other + 4)};
    fz_wr32(t + field, choices[below(rng, sizeof choices / sizeof choices[0])]);
}

static void mutate_event(const sections *s, uint32_t *rng)
{
    uint32_t count = s->swap_len / EVENT_BYTES;
    uint8_t *ev = s->buf + s->swap + (size_t)below(rng, count) * EVENT_BYTES;
    const uint8_t *other = s->buf + s->swap + (size_t)below(rng, count) * EVENT_BYTES;
    uint32_t field = below(rng, 7);
    switch (field) {
    case 0: fz_wr32(ev, below(rng, n_ops(s) + 1)); break;
    case 1: ev[4] = (uint8_t)below(rng, 3); break;
    case 2: ev[5] = (uint8_t)below(rng, 4); break;
    case 3: ev[6] = (uint8_t)below(rng, 4); ev[7] = below(rng, 8) ? 0 : (uint8_t)below(rng, 256); break;
    default: {
        uint32_t at = 8 + 4 * (field - 4), old = fz_rd32(ev + at);
        uint32_t choices[] = {old + 4, old - 4, fz_rd32(other + at), 0, old * 2};
        fz_wr32(ev + at, choices[below(rng, 5)]);
    }
    }
}

static void mutate_prog(const sections *s, uint32_t *rng)
{
    uint32_t field = below(rng, 13), at = s->prog + 4 * field;
    if (field == PROG_N_TENSORS / 4 || field == PROG_N_OPS) return; /* counts must match the sections */
    if (field >= 3 && field <= 6) fz_wr32(s->buf + at, (uint32_t)tensor_id(s, rng));
    else fz_wr32(s->buf + at, (uint32_t)int_value(s, rng, (int32_t)fz_rd32(s->buf + at)));
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    uint32_t rng = seed | 1u;
    sections s;
    uint32_t choice = below(&rng, 16);
    if (choice == 0 || !locate(data, size, &s)) {
        size = LLVMFuzzerMutate(data, size, max_size);
        fz_repair_crcs(data, size);
        return size;
    }
    if (choice <= 6) mutate_op_field(&s, &rng);
    else if (choice == 7) copy_op(&s, &rng);
    else if (choice == 8) size = resize_ops(&s, &rng, max_size, (int)below(&rng, 2));
    else if (choice <= 10) mutate_tensor(&s, &rng);
    else if (choice <= 13 && s.has_swap && s.swap_len >= EVENT_BYTES) mutate_event(&s, &rng);
    else mutate_prog(&s, &rng);
    fz_repair_crcs(data, size);
    return size;
}
