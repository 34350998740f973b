/* flash.h over semihosting host files. The mapped windows are the MPS2
 * board's memory at 0x21000000, outside the 256 KB SRAM budget, standing for
 * memory-mapped flash: a mapped file is copied there when mapped. */
#include "flash.h"
#include "semihost.h"

extern uint8_t __mapped_flash_start[], __mapped_flash_end[];
#define WINDOWS 3u

int flash_create(flash_file *f, const char *name)
{
    f->handle = semihost_open(name, SEMIHOST_CREATE);
    return f->handle < 0 ? -1 : 0;
}

int flash_open(flash_file *f, const char *name)
{
    f->handle = semihost_open(name, SEMIHOST_READ_WRITE);
    return f->handle < 0 ? -1 : 0;
}

int flash_pread(flash_file *f, uint32_t offset, void *dst, uint32_t n)
{
    if (f->handle < 0 || semihost_seek(f->handle, offset) != 0) return -1;
    return n == 0 || semihost_read(f->handle, dst, n) == 0 ? 0 : -1;
}

int flash_pwrite(flash_file *f, uint32_t offset, const void *src, uint32_t n)
{
    if (f->handle < 0 || semihost_seek(f->handle, offset) != 0) return -1;
    return n == 0 || semihost_write(f->handle, src, n) == 0 ? 0 : -1;
}

int32_t flash_length(flash_file *f)
{
    return f->handle < 0 ? -1 : semihost_flen(f->handle);
}

int flash_close(flash_file *f)
{
    int status = f->handle < 0 ? 0 : semihost_close(f->handle);
    f->handle = -1;
    return status;
}

int flash_install(const char *temp, const char *name)
{
    return semihost_rename(temp, name) == 0 ? 0 : -1;
}

void flash_remove(const char *name)
{
    semihost_remove(name);
}

int32_t flash_size(const char *name)
{
    flash_file f;
    if (flash_open(&f, name) != 0) return -1;
    int32_t n = flash_length(&f);
    flash_close(&f);
    return n;
}

const uint8_t *flash_map(const char *name, enum flash_window window, uint32_t *length)
{
    uint32_t span = (uint32_t)(__mapped_flash_end - __mapped_flash_start) / WINDOWS & ~7u;
    uint8_t *base = __mapped_flash_start + span * (uint32_t)window;
    flash_file f;
    if (flash_open(&f, name) != 0) return 0;
    int32_t n = flash_length(&f);
    int ok = n >= 0 && (uint32_t)n <= span && flash_pread(&f, 0, base, (uint32_t)n) == 0;
    flash_close(&f);
    if (!ok) return 0;
    *length = (uint32_t)n;
    return base;
}
