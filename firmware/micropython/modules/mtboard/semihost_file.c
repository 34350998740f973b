// Semihosting calls: r0 = operation, r1 = argument block, `bkpt 0xAB` traps to QEMU,
// the result comes back in r0 (as firmware/src/semihost.c, which this port cannot link).
#include <string.h>
#include "semihost_file.h"

enum { SYS_OPEN = 0x01, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_SEEK = 0x0A, SYS_FLEN = 0x0C };

static int call(int op, void *args) {
    register int r0 __asm__ ("r0") = op;
    register void *r1 __asm__ ("r1") = args;
    __asm__ volatile ("bkpt 0xAB" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

int semihost_open(const char *path, int mode) {
    uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return call(SYS_OPEN, args);
}

int semihost_seek(int handle, uint32_t offset) {
    uint32_t args[2] = {(uint32_t)handle, offset};
    return call(SYS_SEEK, args);
}

int semihost_read(int handle, void *dst, uint32_t n) {
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)dst, n};
    return call(SYS_READ, args);
}

int semihost_write(int handle, const void *src, uint32_t n) {
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)src, n};
    return call(SYS_WRITE, args);
}

int32_t semihost_flen(int handle) {
    uint32_t args[1] = {(uint32_t)handle};
    return call(SYS_FLEN, args);
}
