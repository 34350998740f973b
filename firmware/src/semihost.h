/* Arm semihosting: the debugger-host services QEMU provides (host files, time,
 * exit). Under QEMU they stand in for a flash chip and a timer. */
#ifndef SEMIHOST_H
#define SEMIHOST_H

#include <stdint.h>

enum semihost_mode { SEMIHOST_READ = 1, SEMIHOST_READ_WRITE = 3, SEMIHOST_CREATE = 7 }; /* rb, r+b, w+b */

int semihost_open(const char *path, int mode);          /* handle, or -1 */
int semihost_close(int handle);
int semihost_write(int handle, const void *src, uint32_t n);   /* 0 when all written */
int semihost_read(int handle, void *dst, uint32_t n);          /* bytes NOT read */
int semihost_seek(int handle, uint32_t offset);
int32_t semihost_flen(int handle);
int semihost_remove(const char *path);
int semihost_rename(const char *from, const char *to);
uint64_t semihost_elapsed_ticks(void);
uint32_t semihost_tick_hz(void);
void semihost_write0(const char *text);
void semihost_exit(int status) __attribute__((noreturn));

#endif
