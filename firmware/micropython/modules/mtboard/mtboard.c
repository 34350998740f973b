// mtboard: the QEMU MPS2 board's UART (the protocol's serial line) and its flash chip (a
// host file through semihosting, as a block device for VfsLfs2). Writes reach the host
// file at once, so what littlefs committed survives QEMU being killed (a power cut).
#include <string.h>

#include "py/runtime.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "extmod/vfs.h"
#include "ports/qemu/uart.h"
#include "semihost_file.h"

#define ERASED_BYTE 0xFF    // what a read past the end of the host file returns
#define FRAME_DELIMITER 0   // protocol/frame.py: a frame ends with 0x00
#define BYTE_GAP_MS 2       // a pause this long ends a read: the sender is done for now

// ---- the UART ----------------------------------------------------------------------

// uart_read(buf, timeout_ms) -> bytes read: waits up to timeout_ms for the first byte, then
// takes bytes while they keep coming, until buf is full or a frame's delimiter arrived.
static mp_obj_t mtboard_uart_read(mp_obj_t buf_in, mp_obj_t timeout_in) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(buf_in, &buf, MP_BUFFER_WRITE);
    uint8_t *out = buf.buf;
    mp_uint_t wait_ms = mp_obj_get_int(timeout_in);
    mp_uint_t last = mp_hal_ticks_ms();
    size_t count = 0;
    while (count < buf.len) {
        int c = uart_rx_chr();
        if (c >= 0) {
            out[count++] = (uint8_t)c;
            last = mp_hal_ticks_ms();
            wait_ms = BYTE_GAP_MS;
            if (c == FRAME_DELIMITER && count > 1 && out[count - 2] != FRAME_DELIMITER) {
                break;
            }
        } else if (mp_hal_ticks_ms() - last >= wait_ms) {
            break;
        } else if (count == 0) {
            __asm__ volatile ("wfi");   // idle until the next SysTick (1 ms): QEMU sleeps too
        }
    }
    return MP_OBJ_NEW_SMALL_INT(count);
}
static MP_DEFINE_CONST_FUN_OBJ_2(mtboard_uart_read_obj, mtboard_uart_read);

static mp_obj_t mtboard_uart_any(void) {
    return mp_obj_new_bool(uart_rx_any());
}
static MP_DEFINE_CONST_FUN_OBJ_0(mtboard_uart_any_obj, mtboard_uart_any);

static mp_obj_t mtboard_uart_write(mp_obj_t buf_in) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(buf_in, &buf, MP_BUFFER_READ);
    uart_tx_strn(buf.buf, buf.len);
    return MP_OBJ_NEW_SMALL_INT(buf.len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mtboard_uart_write_obj, mtboard_uart_write);

// ---- the flash chip: HostFlash(path, block_size, block_count) ------------------------

typedef struct {
    mp_obj_base_t base;
    int handle;
    uint32_t block_size;
    uint32_t block_count;
    uint32_t stored;    // bytes in the host file: reads past them need no semihosting call
} host_flash_t;

static mp_obj_t host_flash_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 3, 3, false);
    const char *path = mp_obj_str_get_str(args[0]);
    int handle = semihost_open(path, SEMIHOST_MODE_READ_PLUS);
    if (handle < 0) {   // a new board: its flash file does not exist yet
        handle = semihost_open(path, SEMIHOST_MODE_WRITE_PLUS);
    }
    if (handle < 0) {
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("cannot open host file %s"), path);
    }
    host_flash_t *self = mp_obj_malloc(host_flash_t, type);
    self->handle = handle;
    self->block_size = mp_obj_get_int(args[1]);
    self->block_count = mp_obj_get_int(args[2]);
    int32_t length = semihost_flen(handle);
    self->stored = length > 0 ? (uint32_t)length : 0;
    return MP_OBJ_FROM_PTR(self);
}

// Byte offset of (block, offset in block), or MP_EINVAL if the access leaves the chip.
static int flash_address(host_flash_t *self, size_t n_args, const mp_obj_t *args, size_t len,
    uint32_t *address) {
    uint32_t block = mp_obj_get_int(args[1]);
    uint32_t offset = n_args > 3 ? (uint32_t)mp_obj_get_int(args[3]) : 0;
    uint64_t start = (uint64_t)block * self->block_size + offset;
    if (start + len > (uint64_t)self->block_size * self->block_count) {
        return MP_EINVAL;
    }
    *address = (uint32_t)start;
    return 0;
}

// readblocks(block, buf[, offset]): bytes beyond the host file's end read as erased flash.
static mp_obj_t host_flash_readblocks(size_t n_args, const mp_obj_t *args) {
    host_flash_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_WRITE);
    uint32_t address;
    int error = flash_address(self, n_args, args, buf.len, &address);
    if (error) {
        return MP_OBJ_NEW_SMALL_INT(-error);
    }
    size_t stored = self->stored <= address ? 0 : self->stored - address;
    stored = stored < buf.len ? stored : buf.len;
    if (stored && (semihost_seek(self->handle, address) != 0
                   || semihost_read(self->handle, buf.buf, stored) != 0)) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
    }
    memset((uint8_t *)buf.buf + stored, ERASED_BYTE, buf.len - stored);
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(host_flash_readblocks_obj, 3, 4, host_flash_readblocks);

static mp_obj_t host_flash_writeblocks(size_t n_args, const mp_obj_t *args) {
    host_flash_t *self = MP_OBJ_TO_PTR(args[0]);
    mp_buffer_info_t buf;
    mp_get_buffer_raise(args[2], &buf, MP_BUFFER_READ);
    uint32_t address;
    int error = flash_address(self, n_args, args, buf.len, &address);
    if (error) {
        return MP_OBJ_NEW_SMALL_INT(-error);
    }
    if (semihost_seek(self->handle, address) != 0 || semihost_write(self->handle, buf.buf, buf.len) != 0) {
        return MP_OBJ_NEW_SMALL_INT(-MP_EIO);
    }
    if (address + buf.len > self->stored) {
        self->stored = address + buf.len;
    }
    return MP_OBJ_NEW_SMALL_INT(0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(host_flash_writeblocks_obj, 3, 4, host_flash_writeblocks);

// ioctl: a host file needs no erase before a write (littlefs does not rely on erased bytes).
static mp_obj_t host_flash_ioctl(mp_obj_t self_in, mp_obj_t op_in, mp_obj_t arg_in) {
    host_flash_t *self = MP_OBJ_TO_PTR(self_in);
    switch (mp_obj_get_int(op_in)) {
        case MP_BLOCKDEV_IOCTL_BLOCK_COUNT:
            return mp_obj_new_int_from_uint(self->block_count);
        case MP_BLOCKDEV_IOCTL_BLOCK_SIZE:
            return mp_obj_new_int_from_uint(self->block_size);
        default:    // init, deinit, sync, erase
            return MP_OBJ_NEW_SMALL_INT(0);
    }
}
static MP_DEFINE_CONST_FUN_OBJ_3(host_flash_ioctl_obj, host_flash_ioctl);

static const mp_rom_map_elem_t host_flash_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_readblocks), MP_ROM_PTR(&host_flash_readblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_writeblocks), MP_ROM_PTR(&host_flash_writeblocks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ioctl), MP_ROM_PTR(&host_flash_ioctl_obj) },
};
static MP_DEFINE_CONST_DICT(host_flash_locals_dict, host_flash_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    host_flash_type, MP_QSTR_HostFlash, MP_TYPE_FLAG_NONE,
    make_new, host_flash_make_new,
    locals_dict, &host_flash_locals_dict
    );

// ---- RAM figures: what MicroPython itself takes, next to the heap the arena lives in ---

static mp_obj_t mtboard_static_ram(void) {
    extern uint32_t _sdata, _edata, _sbss, _ebss;
    return mp_obj_new_int_from_uint((uint32_t)((char *)&_edata - (char *)&_sdata)
        + (uint32_t)((char *)&_ebss - (char *)&_sbss));
}
static MP_DEFINE_CONST_FUN_OBJ_0(mtboard_static_ram_obj, mtboard_static_ram);

static const mp_rom_map_elem_t mtboard_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_mtboard) },
    { MP_ROM_QSTR(MP_QSTR_uart_read), MP_ROM_PTR(&mtboard_uart_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_uart_any), MP_ROM_PTR(&mtboard_uart_any_obj) },
    { MP_ROM_QSTR(MP_QSTR_uart_write), MP_ROM_PTR(&mtboard_uart_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_HostFlash), MP_ROM_PTR(&host_flash_type) },
    { MP_ROM_QSTR(MP_QSTR_static_ram), MP_ROM_PTR(&mtboard_static_ram_obj) },
    { MP_ROM_QSTR(MP_QSTR_HEAP_BYTES), MP_ROM_INT(MICROPY_HEAP_SIZE) },
    { MP_ROM_QSTR(MP_QSTR_ARENA_BYTES), MP_ROM_INT(MTBOARD_ARENA_BYTES) },
};
static MP_DEFINE_CONST_DICT(mtboard_globals, mtboard_globals_table);

const mp_obj_module_t mtboard_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mtboard_globals,
};

MP_REGISTER_MODULE(MP_QSTR_mtboard, mtboard_module);
