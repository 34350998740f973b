/* _microtrain.Bundle(buffer): the core's bundle reader (mt_bundle_open) over a
 * caller's buffer, validated in place and never copied. Parts of the bundle
 * (init values, data sets, JSON texts) are given as byte offsets into that
 * buffer: Python slices a memoryview of it, which keeps the buffer alive
 * (MicroPython's GC sees only pointers to a block's start). */
#include "py/runtime.h"
#include "mod_microtrain.h"

#define ERROR_TEXT_BYTES 256

static const uint32_t empty_bundle = 0;  /* an aligned stand-in for a zero-length buffer */

static mp_obj_t bundle_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args)
{
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    mp_buffer_info_t info;
    mp_get_buffer_raise(args[0], &info, MP_BUFFER_READ);
    if ((uint64_t)info.len > 0xFFFFFFFFu) mt_raise_text(&mp_type_BundleError, "bundle exceeds the 4 GiB format limit");
    mt_bundle_obj *self = mp_obj_malloc(mt_bundle_obj, type);
    self->buffer = args[0];
    self->bytes = info.len ? (const uint8_t *)info.buf : (const uint8_t *)&empty_bundle;
    char err[ERROR_TEXT_BYTES];
    if (mt_bundle_open(self->bytes, (uint32_t)info.len, &self->bundle, err, sizeof(err)) != MT_OK)
        mt_raise_text(&mp_type_BundleError, err);
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t new_uint(uint32_t value) { return mp_obj_new_int_from_uint(value); }

static mp_obj_t uint_tuple(const uint32_t *values, size_t n)
{
    mp_obj_t items[17];
    for (size_t i = 0; i < n; i++) items[i] = new_uint(values[i]);
    return mp_obj_new_tuple(n, items);
}

static uint32_t offset_of(const mt_bundle_obj *self, const void *part)
{
    return (uint32_t)((const uint8_t *)part - self->bytes);
}

/* -> (major, minor, n_ops, n_tensors, arena_bytes, input, labels, metrics, output, batch,
 *     x_numel, label_kind, y_bytes, flash_bytes, kernel_abi, n_swap_events, n_init,
 *     micro_batches, iteration_samples) */
static mp_obj_t bundle_header(mp_obj_t self_in)
{
    const mt_bundle *b = &((mt_bundle_obj *)MP_OBJ_TO_PTR(self_in))->bundle;
    const mt_program *p = &b->program;
    mp_obj_t items[19] = {
        new_uint(b->major), new_uint(b->minor), new_uint(p->n_ops), new_uint(p->n_tensors),
        new_uint(p->arena_bytes), mp_obj_new_int(p->input), mp_obj_new_int(p->labels),
        mp_obj_new_int(p->metrics), mp_obj_new_int(p->output), new_uint(b->batch),
        new_uint(b->x_numel), new_uint(b->label_kind), new_uint(b->y_bytes),
        new_uint(b->flash_bytes), new_uint(b->kernel_abi),
        new_uint(b->swap_events ? b->n_swap_events : 0), new_uint(b->n_init),
        new_uint(p->micro_batches > 1 ? p->micro_batches : 1), new_uint(b->iteration_samples)};
    return mp_obj_new_tuple(19, items);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_header_obj, bundle_header);

/* -> (epochs, iterations, checkpoint_interval, shuffle_seed, flags) */
static mp_obj_t bundle_train_settings(mp_obj_t self_in)
{
    const mt_train_settings *t = &((mt_bundle_obj *)MP_OBJ_TO_PTR(self_in))->bundle.train;
    const uint32_t values[5] = {t->epochs, t->iterations, t->checkpoint_interval, t->shuffle_seed, t->flags};
    return uint_tuple(values, 5);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_train_settings_obj, bundle_train_settings);

/* -> [(tensor, where, offset, nbytes, data offset in the buffer), ...] */
static mp_obj_t bundle_init_records(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    mp_obj_t records = mp_obj_new_list(0, NULL);
    uint32_t cursor = 0;
    mt_init_record rec;
    while (mt_bundle_next_init(&self->bundle, &cursor, &rec)) {
        const uint32_t values[5] = {rec.tensor, rec.where, rec.offset, rec.nbytes,
                                    rec.nbytes ? offset_of(self, rec.bytes) : 0};
        mp_obj_list_append(records, uint_tuple(values, 5));
    }
    return records;
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_init_records_obj, bundle_init_records);

/* tensor(tid) -> (arena offset, nbytes) */
static mp_obj_t bundle_tensor(mp_obj_t self_in, mp_obj_t tid_in)
{
    const mt_program *p = &((mt_bundle_obj *)MP_OBJ_TO_PTR(self_in))->bundle.program;
    mp_int_t tid = mp_obj_get_int(tid_in);
    if (tid < 0 || (mp_uint_t)tid >= p->n_tensors)
        mp_raise_msg_varg(&mp_type_IndexError, MP_ERROR_TEXT("tensor id %d out of range"), (int)tid);
    const uint32_t values[2] = {p->tensors[tid].offset, p->tensors[tid].nbytes};
    return uint_tuple(values, 2);
}
static MP_DEFINE_CONST_FUN_OBJ_2(bundle_tensor_obj, bundle_tensor);

/* -> (offset, count, record bytes) of the op records */
static mp_obj_t bundle_ops(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    const mt_program *p = &self->bundle.program;
    const uint32_t values[3] = {p->n_ops ? offset_of(self, p->ops) : 0, p->n_ops, (uint32_t)sizeof(mt_op)};
    return uint_tuple(values, 3);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_ops_obj, bundle_ops);

/* -> (offset, count, record bytes) of the tensor table ((offset, nbytes) u32 pairs) */
static mp_obj_t bundle_tensors(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    const mt_program *p = &self->bundle.program;
    const uint32_t values[3] = {p->n_tensors ? offset_of(self, p->tensors) : 0, p->n_tensors,
                                (uint32_t)sizeof(mt_tensor)};
    return uint_tuple(values, 3);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_tensors_obj, bundle_tensors);

/* -> (offset, count, record bytes) of the swap events, or None without a SWAP section */
static mp_obj_t bundle_swap_events(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    if (self->bundle.swap_events == NULL) return mp_const_none;
    const uint32_t values[3] = {offset_of(self, self->bundle.swap_events), self->bundle.n_swap_events,
                                (uint32_t)sizeof(mt_swap_event)};
    return uint_tuple(values, 3);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_swap_events_obj, bundle_swap_events);

static mp_obj_t text_span(mt_bundle_obj *self, const char *text, uint32_t length)
{
    if (text == NULL) return mp_const_none;
    const uint32_t values[2] = {offset_of(self, text), length};
    return uint_tuple(values, 2);
}

/* -> (offset, length) of the MODL JSON text */
static mp_obj_t bundle_model_json(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    return text_span(self, self->bundle.model_json, self->bundle.model_json_len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_model_json_obj, bundle_model_json);

/* -> (offset, length) of the NAME JSON text, or None */
static mp_obj_t bundle_names_json(mp_obj_t self_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    return text_span(self, self->bundle.names_json, self->bundle.names_json_len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(bundle_names_json_obj, bundle_names_json);

/* dataset(test) -> (n_samples, x offset, y offset) of DATA (test False) or the
 * held-out section (test True), or None when the bundle has none */
static mp_obj_t bundle_dataset(mp_obj_t self_in, mp_obj_t test_in)
{
    mt_bundle_obj *self = MP_OBJ_TO_PTR(self_in);
    int test = mp_obj_is_true(test_in);
    if (!(test ? self->bundle.has_test : self->bundle.has_data)) return mp_const_none;
    const mt_dataset *d = test ? &self->bundle.test : &self->bundle.data;
    const uint32_t values[3] = {d->n_samples, offset_of(self, d->x), offset_of(self, d->y)};
    return uint_tuple(values, 3);
}
static MP_DEFINE_CONST_FUN_OBJ_2(bundle_dataset_obj, bundle_dataset);

static const mp_rom_map_elem_t bundle_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_header), MP_ROM_PTR(&bundle_header_obj) },
    { MP_ROM_QSTR(MP_QSTR_train_settings), MP_ROM_PTR(&bundle_train_settings_obj) },
    { MP_ROM_QSTR(MP_QSTR_init_records), MP_ROM_PTR(&bundle_init_records_obj) },
    { MP_ROM_QSTR(MP_QSTR_tensor), MP_ROM_PTR(&bundle_tensor_obj) },
    { MP_ROM_QSTR(MP_QSTR_ops), MP_ROM_PTR(&bundle_ops_obj) },
    { MP_ROM_QSTR(MP_QSTR_tensors), MP_ROM_PTR(&bundle_tensors_obj) },
    { MP_ROM_QSTR(MP_QSTR_swap_events), MP_ROM_PTR(&bundle_swap_events_obj) },
    { MP_ROM_QSTR(MP_QSTR_model_json), MP_ROM_PTR(&bundle_model_json_obj) },
    { MP_ROM_QSTR(MP_QSTR_names_json), MP_ROM_PTR(&bundle_names_json_obj) },
    { MP_ROM_QSTR(MP_QSTR_dataset), MP_ROM_PTR(&bundle_dataset_obj) },
};
static MP_DEFINE_CONST_DICT(bundle_locals, bundle_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    mt_bundle_type, MP_QSTR_Bundle, MP_TYPE_FLAG_NONE,
    make_new, bundle_make_new,
    locals_dict, &bundle_locals
    );
