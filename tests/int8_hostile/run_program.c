/* Runs one hand-made program over a given arena (for tests/test_int8_hostile.py,
 * built with ASan + UBSan): file = u32 n_ops, n_tensors, arena_bytes, then the
 * op records, the tensor table and the arena's bytes. Tensor 0 serves as input,
 * labels, metrics and output. Exit 0: validated and ran (train, then eval);
 * 3: refused by validation; 2: bad file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mt_exec.h"

static int read_all(const char *path, unsigned char **data, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)*size + 1);
    int ok = *data && fread(*data, 1, (size_t)*size, f) == (size_t)*size;
    fclose(f);
    return ok;
}

int main(int argc, char **argv)
{
    unsigned char *data;
    long size;
    uint32_t head[3];
    if (argc != 2 || !read_all(argv[1], &data, &size) || size < 12) return 2;
    memcpy(head, data, sizeof head);
    long need = 12 + (long)head[0] * sizeof(mt_op) + (long)head[1] * sizeof(mt_tensor) + head[2];
    if (need != size) return 2;
    /* separate, exact-size allocations: ASan sees any access outside them */
    mt_op *ops = malloc(head[0] * sizeof(mt_op));
    mt_tensor *tensors = malloc(head[1] * sizeof(mt_tensor));
    uint8_t *arena = malloc(head[2]);
    memcpy(ops, data + 12, head[0] * sizeof(mt_op));
    memcpy(tensors, data + 12 + head[0] * sizeof(mt_op), head[1] * sizeof(mt_tensor));
    memcpy(arena, data + 12 + head[0] * sizeof(mt_op) + head[1] * sizeof(mt_tensor), head[2]);
    mt_program prog = {ops, head[0], tensors, head[1], head[2], 0, 0, 0, 0, 1};
    if (mt_program_validate(&prog) != MT_OK) return 3;
    if (mt_run(&prog, arena, MT_MODE_TRAIN, NULL) != MT_OK) return 4;
    if (mt_run(&prog, arena, MT_MODE_EVAL, NULL) != MT_OK) return 4;
    free(ops);
    free(tensors);
    free(arena);
    free(data);
    return 0;
}
