/* The board's flash as a few named files (the same names as board/storage.py).
 * Writes that must survive a power cut go to a temp file first and replace the
 * old one with flash_install (atomic). flash_map puts a file where the CPU
 * can read it in place, as memory-mapped (XIP) flash: bundles and samples are
 * used from there, never copied into SRAM.
 * Under QEMU: host files in QEMU's working directory, through semihosting. */
#ifndef FLASH_H
#define FLASH_H

#include <stdint.h>

#define FLASH_BUNDLE "bundle.mtb"
#define FLASH_SAMPLES "samples.bin"
#define FLASH_UPLOAD_TEMP "upload.tmp"
#define FLASH_SWAP "flash.bin"
#define FLASH_CAPACITY (16u << 20)   /* what INFO reports as flash_bytes */

enum flash_window { FLASH_WINDOW_BUNDLE = 0, FLASH_WINDOW_SAMPLES = 1, FLASH_WINDOW_DOWNLOAD = 2 };

typedef struct {
    int handle;   /* -1 when closed */
} flash_file;

int flash_create(flash_file *f, const char *name);     /* empty file for writing; 0 ok */
int flash_open(flash_file *f, const char *name);       /* existing file, read and write; 0 ok */
int flash_pread(flash_file *f, uint32_t offset, void *dst, uint32_t n);
int flash_pwrite(flash_file *f, uint32_t offset, const void *src, uint32_t n);
int32_t flash_length(flash_file *f);
int flash_close(flash_file *f);
int flash_install(const char *temp, const char *name); /* atomic replace */
void flash_remove(const char *name);
int32_t flash_size(const char *name);                  /* -1 if missing */
/* Maps a whole file into a window -> its bytes (4-byte aligned), NULL if missing or too big. */
const uint8_t *flash_map(const char *name, enum flash_window window, uint32_t *length);

#endif
