/* Replays inputs through a fuzz target without libFuzzer, so the regression
 * tests run with gcc alone: fuzz_replay FILE... runs each file once and
 * exits 0 unless a sanitizer (or a crash) stops it first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern const char *fuzz_last_outcome; /* set by the target */

static int replay(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, got);
    free(data);
    printf("%s: %s\n", path, fuzz_last_outcome);
    return 0;
}

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) failed |= replay(argv[i]);
    return failed;
}
