/* _microtrain.Executor(bundle, arena, flash=None): a validated bundle's program
 * bound to an arena the caller allocated (a bytearray: MicroPython's heap, no
 * malloc) and, when the bundle swaps, to its flash file (a stream). It applies
 * INIT values, reads and writes tensors at their homes (arena or flash, as
 * core_cy/runtime.py places them), trains with the swap schedule replayed
 * around every op, and counts held-out hits (eval forward). */
#include <string.h>
#include "py/mperrno.h"
#include "py/runtime.h"
#include "mod_microtrain.h"

typedef struct {
    mp_obj_base_t base;
    mt_bundle_obj *bundle;
    mp_obj_t arena_obj;
    uint8_t *arena;
    mp_obj_t flash;             /* the swap store's stream, or None */
    mt_stream_storage store;
    mt_storage storage;
    mt_swap_runtime swap;
    mt_hooks hooks;
    bool has_swap;
} mt_executor_obj;

static const mt_program *program_of(const mt_executor_obj *self) { return &self->bundle->bundle.program; }

static const mt_hooks *hooks_of(const mt_executor_obj *self) { return self->has_swap ? &self->hooks : NULL; }

/* The schedule against this store, as core_cy's SwapRuntime checks it. */
static void check_swap(const mt_executor_obj *self)
{
    const mt_bundle *b = &self->bundle->bundle;
    mt_swap_limits limits = {b->program.n_ops, b->program.arena_bytes, self->store.size, 0xFFFFFFFFu};
    mt_swap_fault fault;
    if (mt_swap_check(b->swap_events, b->n_swap_events, &limits, &fault) != MT_OK)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("swap event %u: %s"),
                          (unsigned)fault.event, mt_swap_problem_str(fault.problem));
}

static void attach_flash(mt_executor_obj *self, mp_obj_t flash)
{
    const mt_bundle *b = &self->bundle->bundle;
    if (flash == mp_const_none) mt_raise_text(&mp_type_ValueError, "the bundle swaps: give its flash file");
    self->flash = flash;
    mt_stream_storage_init(&self->store, flash, b->flash_bytes > 4 ? b->flash_bytes : 4);
    self->storage = mt_stream_storage_interface(&self->store);
    check_swap(self);
    mt_swap_init(&self->swap, b->swap_events, b->n_swap_events, self->arena, &self->storage);
    self->hooks = mt_swap_hooks(&self->swap);
    self->has_swap = true;
}

static mp_obj_t executor_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args)
{
    mp_arg_check_num(n_args, n_kw, 2, 3, false);
    if (!mp_obj_is_type(args[0], &mt_bundle_type)) mp_raise_TypeError(MP_ERROR_TEXT("expected a Bundle"));
    mt_bundle_obj *bundle = MP_OBJ_TO_PTR(args[0]);
    uint32_t arena_bytes = bundle->bundle.program.arena_bytes;
    mp_buffer_info_t arena;
    mp_get_buffer_raise(args[1], &arena, MP_BUFFER_RW);
    if (arena.len < arena_bytes)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("arena of %u bytes, the bundle needs %u"),
                          (unsigned)arena.len, (unsigned)arena_bytes);
    if ((uintptr_t)arena.buf % 4) mt_raise_text(&mp_type_ValueError, "arena is not 4-byte aligned");
    mt_executor_obj *self = mp_obj_malloc(mt_executor_obj, type);
    self->bundle = bundle;
    self->arena_obj = args[1];
    self->arena = arena.buf;
    self->flash = mp_const_none;
    self->has_swap = false;
    memset(self->arena, 0, arena_bytes);  /* as the CPython engine's zeroed arena */
    const mt_bundle *b = &bundle->bundle;
    if (b->swap_events != NULL && b->n_swap_events > 0)
        attach_flash(self, n_args > 2 ? args[2] : mp_const_none);
    return MP_OBJ_FROM_PTR(self);
}

/* ---- tensors at their homes ------------------------------------------------ */

typedef struct {
    bool in_flash;
    uint32_t offset;
    uint32_t nbytes;
} tensor_home;

/* Where tid rests between iterations: its INIT record's home (flash only when
 * the bundle swaps), else its arena slot; nbytes from the tensor table. */
static tensor_home home_of(const mt_executor_obj *self, mp_obj_t tid_in)
{
    const mt_bundle *b = &self->bundle->bundle;
    mp_int_t tid = mp_obj_get_int(tid_in);
    if (tid < 0 || (mp_uint_t)tid >= b->program.n_tensors)
        mp_raise_msg_varg(&mp_type_IndexError, MP_ERROR_TEXT("tensor id %d out of range"), (int)tid);
    tensor_home home = {false, b->program.tensors[tid].offset, b->program.tensors[tid].nbytes};
    uint32_t cursor = 0;
    mt_init_record rec;
    while (mt_bundle_next_init(b, &cursor, &rec)) {
        if (rec.tensor != (uint32_t)tid) continue;
        if (rec.where != MT_INIT_FLASH || self->has_swap) {
            home.in_flash = rec.where == MT_INIT_FLASH;
            home.offset = rec.offset;
        }
        break;
    }
    if (!home.in_flash && (home.offset > b->program.arena_bytes || home.nbytes > b->program.arena_bytes - home.offset))
        mt_raise_text(&mp_type_ValueError, "tensor lies outside the arena");
    return home;
}

static void flash_failed(mt_executor_obj *self)
{
    mp_raise_OSError(self->store.error ? self->store.error : MP_EIO);
}

static void write_home(mt_executor_obj *self, mp_obj_t tid_in, const uint8_t *src, size_t len)
{
    tensor_home home = home_of(self, tid_in);
    if (len != home.nbytes)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("tensor %d holds %u bytes, got %u"),
                          (int)mp_obj_get_int(tid_in), (unsigned)home.nbytes, (unsigned)len);
    if (!home.in_flash) {
        memcpy(self->arena + home.offset, src, len);
    } else if (mt_stream_storage_write(&self->store, home.offset, src, home.nbytes) != 0) {
        flash_failed(self);
    }
}

/* read_tensor(tid) -> bytes of the tensor's current value */
static mp_obj_t executor_read_tensor(mp_obj_t self_in, mp_obj_t tid_in)
{
    mt_executor_obj *self = MP_OBJ_TO_PTR(self_in);
    tensor_home home = home_of(self, tid_in);
    if (!home.in_flash) return mp_obj_new_bytes(self->arena + home.offset, home.nbytes);
    vstr_t value;
    vstr_init_len(&value, home.nbytes);
    if (mt_stream_storage_read(&self->store, home.offset, (uint8_t *)value.buf, home.nbytes) != 0) {
        vstr_clear(&value);
        flash_failed(self);
    }
    return mp_obj_new_bytes_from_vstr(&value);
}
static MP_DEFINE_CONST_FUN_OBJ_2(executor_read_tensor_obj, executor_read_tensor);

/* write_tensor(tid, data): data's length must be the tensor's */
static mp_obj_t executor_write_tensor(mp_obj_t self_in, mp_obj_t tid_in, mp_obj_t data_in)
{
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    write_home(MP_OBJ_TO_PTR(self_in), tid_in, data.buf, data.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(executor_write_tensor_obj, executor_write_tensor);

/* reset(): every INIT record's value to its tensor's home */
static mp_obj_t executor_reset(mp_obj_t self_in)
{
    mt_executor_obj *self = MP_OBJ_TO_PTR(self_in);
    uint32_t cursor = 0;
    mt_init_record rec;
    while (mt_bundle_next_init(&self->bundle->bundle, &cursor, &rec))
        write_home(self, mp_obj_new_int_from_uint(rec.tensor), rec.bytes, rec.nbytes);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(executor_reset_obj, executor_reset);

/* ---- data and training ----------------------------------------------------- */

/* Samples from buffers: x float32 (n, x_numel), 4-byte aligned; y (n, y_bytes). */
static mt_dataset dataset_of(const mt_executor_obj *self, mp_obj_t x_in, mp_obj_t y_in)
{
    const mt_bundle *b = &self->bundle->bundle;
    mp_buffer_info_t x, y;
    mp_get_buffer_raise(x_in, &x, MP_BUFFER_READ);
    mp_get_buffer_raise(y_in, &y, MP_BUFFER_READ);
    size_t sample_bytes = (size_t)b->x_numel * 4;
    if ((uintptr_t)x.buf % 4) mt_raise_text(&mp_type_ValueError, "x is not 4-byte aligned");
    if (sample_bytes == 0 || x.len % sample_bytes || x.len / sample_bytes > 0xFFFFFFFFu)
        mt_raise_text(&mp_type_ValueError, "x is not a whole number of samples");
    size_t n = x.len / sample_bytes;
    if (y.len != n * b->y_bytes)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("x has %u samples, y %u bytes"),
                          (unsigned)n, (unsigned)y.len);
    mt_dataset data = {x.buf, y.buf, (uint32_t)n, b->x_numel, b->y_bytes};
    return data;
}

/* train(x, y, order, first_batch, n_iter) -> (loss sum, correct sum) as the CPython engine sums them */
static mp_obj_t executor_train(size_t n_args, const mp_obj_t *args)
{
    (void)n_args;
    mt_executor_obj *self = MP_OBJ_TO_PTR(args[0]);
    mt_dataset data = dataset_of(self, args[1], args[2]);
    mp_buffer_info_t order;
    mp_get_buffer_raise(args[3], &order, MP_BUFFER_READ);
    if (order.typecode != 'i' || order.len < 4 || (uintptr_t)order.buf % 4)
        mt_raise_text(&mp_type_ValueError, "order must be a non-empty array('i')");
    double loss, correct;
    int status = mt_train_sums(program_of(self), self->arena, &data, order.buf, (uint32_t)(order.len / 4),
                               (uint32_t)mp_obj_get_int(args[4]), (uint32_t)mp_obj_get_int(args[5]),
                               hooks_of(self), &loss, &correct);
    if (status != MT_OK) mt_raise_status(status, "train");
    mp_obj_t sums[2] = {mp_obj_new_float((mp_float_t)loss), mp_obj_new_float((mp_float_t)correct)};
    return mp_obj_new_tuple(2, sums);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(executor_train_obj, 6, 6, executor_train);

/* Index of the row's largest value, the first one on ties and at a NaN (numpy's argmax). */
static uint32_t argmax(const uint8_t *row, uint32_t cols)
{
    uint32_t best = 0;
    float best_value;
    memcpy(&best_value, row, 4);
    for (uint32_t j = 1; j < cols && best_value == best_value; j++) {
        float value;
        memcpy(&value, row + 4 * j, 4);
        if (value > best_value || value != value) {
            best = j;
            best_value = value;
        }
    }
    return best;
}

/* core_cy/accuracy.py's rule: one output is a probability thresholded at 0.5,
 * several are scores (argmax); the truth is the index label or the target's argmax. */
static int is_hit(const mt_bundle *b, const uint8_t *output, uint32_t cols, const uint8_t *label)
{
    uint32_t predicted;
    if (cols == 1) {
        float p;
        memcpy(&p, output, 4);
        predicted = p > 0.5f;
    } else {
        predicted = argmax(output, cols);
    }
    if (b->label_kind == MT_LABEL_INDEX) {
        int32_t truth;
        memcpy(&truth, label, 4);
        return truth >= 0 && (uint32_t)truth == predicted;
    }
    return argmax(label, b->y_bytes / 4) == predicted;
}

/* One eval forward of batch `index` in sample order (a partial last batch wraps
 * around, as core_cy.runtime's predict) -> status. */
static int forward(mt_executor_obj *self, const mt_dataset *data, int32_t *order, uint32_t batch, uint32_t index)
{
    for (uint32_t j = 0; j < batch; j++)
        order[j] = (int32_t)(((uint64_t)index * batch + j) % data->n_samples);
    int status = mt_load_batch(program_of(self), self->arena, data, order, batch, 0);
    if (status != MT_OK) return status;
    status = mt_run(program_of(self), self->arena, MT_MODE_EVAL, hooks_of(self));
    if (status == MT_OK && self->has_swap && mt_swap_finish(&self->swap) != 0) status = MT_ERR_IO;
    return status;
}

/* correct(x, y) -> samples whose prediction (eval forward, current weights) is right */
static mp_obj_t executor_correct(mp_obj_t self_in, mp_obj_t x_in, mp_obj_t y_in)
{
    mt_executor_obj *self = MP_OBJ_TO_PTR(self_in);
    const mt_bundle *b = &self->bundle->bundle;
    mt_dataset data = dataset_of(self, x_in, y_in);
    const mt_tensor *output = &b->program.tensors[b->program.output];
    uint32_t batch = b->batch, cols = batch ? output->nbytes / 4 / batch : 0;
    if (data.n_samples == 0 || cols == 0) mt_raise_text(&mp_type_ValueError, "nothing to evaluate");
    int32_t *order = m_new(int32_t, batch);
    uint32_t hits = 0;
    for (uint32_t index = 0; (uint64_t)index * batch < data.n_samples; index++) {
        int status = forward(self, &data, order, batch, index);
        if (status != MT_OK) {
            m_del(int32_t, order, batch);
            mt_raise_status(status, "run");
        }
        for (uint32_t j = 0; j < batch && index * batch + j < data.n_samples; j++) {
            uint32_t sample = index * batch + j;
            hits += (uint32_t)is_hit(b, self->arena + output->offset + (size_t)j * cols * 4, cols,
                                     data.y + (size_t)sample * data.y_bytes);
        }
    }
    m_del(int32_t, order, batch);
    return mp_obj_new_int_from_uint(hits);
}
static MP_DEFINE_CONST_FUN_OBJ_3(executor_correct_obj, executor_correct);

/* swap_bytes() -> (read, written) moved between arena and flash so far */
static mp_obj_t executor_swap_bytes(mp_obj_t self_in)
{
    mt_executor_obj *self = MP_OBJ_TO_PTR(self_in);
    uint64_t read = self->has_swap ? self->swap.bytes_read : 0;
    uint64_t written = self->has_swap ? self->swap.bytes_written : 0;
    mp_obj_t counts[2] = {mp_obj_new_int_from_ull(read), mp_obj_new_int_from_ull(written)};
    return mp_obj_new_tuple(2, counts);
}
static MP_DEFINE_CONST_FUN_OBJ_1(executor_swap_bytes_obj, executor_swap_bytes);

/* swaps -> True when the bundle keeps tensors in flash */
static mp_obj_t executor_swaps(mp_obj_t self_in)
{
    return mp_obj_new_bool(((mt_executor_obj *)MP_OBJ_TO_PTR(self_in))->has_swap);
}
static MP_DEFINE_CONST_FUN_OBJ_1(executor_swaps_obj, executor_swaps);

static const mp_rom_map_elem_t executor_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&executor_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_read_tensor), MP_ROM_PTR(&executor_read_tensor_obj) },
    { MP_ROM_QSTR(MP_QSTR_write_tensor), MP_ROM_PTR(&executor_write_tensor_obj) },
    { MP_ROM_QSTR(MP_QSTR_train), MP_ROM_PTR(&executor_train_obj) },
    { MP_ROM_QSTR(MP_QSTR_correct), MP_ROM_PTR(&executor_correct_obj) },
    { MP_ROM_QSTR(MP_QSTR_swap_bytes), MP_ROM_PTR(&executor_swap_bytes_obj) },
    { MP_ROM_QSTR(MP_QSTR_swaps), MP_ROM_PTR(&executor_swaps_obj) },
};
static MP_DEFINE_CONST_DICT(executor_locals, executor_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mt_executor_type, MP_QSTR_Executor, MP_TYPE_FLAG_NONE,
    make_new, executor_make_new,
    locals_dict, &executor_locals
    );
