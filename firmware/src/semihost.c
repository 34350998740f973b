/* Semihosting calls: r0 = operation, r1 = pointer to an argument block,
 * `bkpt 0xAB` traps to QEMU, the result comes back in r0. */
#include <string.h>
#include "semihost.h"

enum {
    SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE0 = 0x04, SYS_WRITE = 0x05, SYS_READ = 0x06,
    SYS_SEEK = 0x0A, SYS_FLEN = 0x0C, SYS_REMOVE = 0x0E, SYS_RENAME = 0x0F,
    SYS_EXIT = 0x18, SYS_EXIT_EXTENDED = 0x20, SYS_ELAPSED = 0x30, SYS_TICKFREQ = 0x31
};

static int call(int op, void *args)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = args;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int semihost_open(const char *path, int mode)
{
    uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
    return call(SYS_OPEN, args);
}

int semihost_close(int handle)
{
    uint32_t args[1] = {(uint32_t)handle};
    return call(SYS_CLOSE, args);
}

int semihost_write(int handle, const void *src, uint32_t n)
{
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)src, n};
    return call(SYS_WRITE, args);
}

int semihost_read(int handle, void *dst, uint32_t n)
{
    uint32_t args[3] = {(uint32_t)handle, (uint32_t)dst, n};
    return call(SYS_READ, args);
}

int semihost_seek(int handle, uint32_t offset)
{
    uint32_t args[2] = {(uint32_t)handle, offset};
    return call(SYS_SEEK, args);
}

int32_t semihost_flen(int handle)
{
    uint32_t args[1] = {(uint32_t)handle};
    return call(SYS_FLEN, args);
}

int semihost_remove(const char *path)
{
    uint32_t args[2] = {(uint32_t)path, (uint32_t)strlen(path)};
    return call(SYS_REMOVE, args);
}

int semihost_rename(const char *from, const char *to)
{
    uint32_t args[4] = {(uint32_t)from, (uint32_t)strlen(from), (uint32_t)to, (uint32_t)strlen(to)};
    return call(SYS_RENAME, args);
}

uint64_t semihost_elapsed_ticks(void)
{
    uint32_t ticks[2] = {0, 0};
    call(SYS_ELAPSED, ticks);
    return ((uint64_t)ticks[1] << 32) | ticks[0];
}

uint32_t semihost_tick_hz(void)
{
    return (uint32_t)call(SYS_TICKFREQ, 0);
}

void semihost_write0(const char *text)
{
    call(SYS_WRITE0, (void *)text);
}

void semihost_exit(int status)
{
    /* ADP_Stopped_ApplicationExit with a status (SYS_EXIT_EXTENDED carries it on 32-bit Arm). */
    uint32_t args[2] = {0x20026u, (uint32_t)status};
    call(SYS_EXIT_EXTENDED, args);
    for (;;) {
    }
}
