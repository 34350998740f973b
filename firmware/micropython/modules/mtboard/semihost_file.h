// Host files through ARM semihosting (QEMU -semihosting-config enable=on,target=native).
#ifndef MTBOARD_SEMIHOST_FILE_H
#define MTBOARD_SEMIHOST_FILE_H

#include <stdint.h>

enum { SEMIHOST_MODE_READ_PLUS = 3, SEMIHOST_MODE_WRITE_PLUS = 7 };  // "r+b", "w+b"

int semihost_open(const char *path, int mode);          // handle, or -1
int semihost_seek(int handle, uint32_t offset);         // 0, or negative
int semihost_read(int handle, void *dst, uint32_t n);   // bytes NOT read (0 = all)
int semihost_write(int handle, const void *src, uint32_t n);  // bytes NOT written
int32_t semihost_flen(int handle);                      // length, or -1

#endif
