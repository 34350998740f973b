/* Synchronous storage over caller memory: the copy happens in read_start. */
#include "mt_storage_ram.h"

#include <string.h>

void mt_storage_ram_init(mt_storage_ram *ram, uint8_t *bytes, uint32_t size)
{
    ram->bytes = bytes;
    ram->size = size;
}

static int in_bounds(const mt_storage_ram *ram, uint32_t offset, uint32_t nbytes)
{
    return offset <= ram->size && nbytes <= ram->size - offset;
}

static int ram_read_start(void *ctx, uint32_t flash_offset, uint8_t *dst, uint32_t nbytes, uint16_t tag)
{
    mt_storage_ram *ram = (mt_storage_ram *)ctx;
    (void)tag;
    if (!in_bounds(ram, flash_offset, nbytes)) return -1;
    memcpy(dst, ram->bytes + flash_offset, nbytes);
    return 0;
}

static int ram_read_wait(void *ctx, uint16_t tag)
{
    (void)ctx;
    (void)tag;
    return 0;
}

static int ram_write(void *ctx, uint32_t flash_offset, const uint8_t *src, uint32_t nbytes)
{
    mt_storage_ram *ram = (mt_storage_ram *)ctx;
    if (!in_bounds(ram, flash_offset, nbytes)) return -1;
    memcpy(ram->bytes + flash_offset, src, nbytes);
    return 0;
}

mt_storage mt_storage_ram_interface(mt_storage_ram *ram)
{
    mt_storage st;
    st.read_start = ram_read_start;
    st.read_wait = ram_read_wait;
    st.write = ram_write;
    st.ctx = ram;
    return st;
}
