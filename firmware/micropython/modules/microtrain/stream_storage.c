/* The swap store on a MicroPython file: the core's mt_storage interface
 * (core_cy/src/mt_swap.h) over any object with the stream protocol (what a
 * file's seek / readinto / write use), so it runs on a unix file or a littlefs
 * file alike. Synchronous: a read completes in read_start. Failures return -1
 * and keep the errno; nothing raises inside the core. */
#include "py/mperrno.h"
#include "py/stream.h"
#include "mod_microtrain.h"

void mt_stream_storage_init(mt_stream_storage *store, mp_obj_t stream, uint32_t size)
{
    mp_get_stream_raise(stream, MP_STREAM_OP_READ | MP_STREAM_OP_WRITE | MP_STREAM_OP_IOCTL);
    store->stream = stream;
    store->size = size;
    store->error = 0;
}

static int in_bounds(const mt_stream_storage *store, uint32_t offset, uint32_t n)
{
    return offset <= store->size && n <= store->size - offset;
}

static int transfer(mt_stream_storage *store, uint32_t offset, uint8_t *buf, uint32_t n, byte flags)
{
    int errcode = 0;
    if (!in_bounds(store, offset, n)) {
        store->error = MP_EINVAL;
        return -1;
    }
    if (n == 0) return 0;
    if (mp_stream_seek(store->stream, (mp_off_t)offset, MP_SEEK_SET, &errcode) == (mp_off_t)-1) {
        store->error = errcode;
        return -1;
    }
    mp_uint_t moved = mp_stream_rw(store->stream, buf, n, &errcode, flags);
    if (moved != n) {
        store->error = errcode ? errcode : MP_EIO;  /* short read: the file ends early */
        return -1;
    }
    return 0;
}

int mt_stream_storage_read(mt_stream_storage *store, uint32_t offset, uint8_t *dst, uint32_t n)
{
    return transfer(store, offset, dst, n, MP_STREAM_RW_READ);
}

int mt_stream_storage_write(mt_stream_storage *store, uint32_t offset, const uint8_t *src, uint32_t n)
{
    return transfer(store, offset, (uint8_t *)src, n, MP_STREAM_RW_WRITE);
}

static int read_start(void *ctx, uint32_t offset, uint8_t *dst, uint32_t n, uint16_t tag)
{
    (void)tag;
    return mt_stream_storage_read((mt_stream_storage *)ctx, offset, dst, n);
}

static int read_wait(void *ctx, uint16_t tag)
{
    (void)ctx;
    (void)tag;
    return 0;  /* reads are synchronous */
}

static int storage_write(void *ctx, uint32_t offset, const uint8_t *src, uint32_t n)
{
    return mt_stream_storage_write((mt_stream_storage *)ctx, offset, src, n);
}

mt_storage mt_stream_storage_interface(mt_stream_storage *store)
{
    mt_storage iface = {read_start, read_wait, storage_write, store};
    return iface;
}
