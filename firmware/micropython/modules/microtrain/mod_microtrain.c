/* The _microtrain module: exceptions carrying the core's messages, the
 * constants the engine shares with the C headers, and the two types
 * (bundle.c, executor.c). board/mp_engine.py is its only intended user. */
#include "py/objexcept.h"
#include "py/objstr.h"
#include "py/runtime.h"
#include "mod_microtrain.h"

MP_DEFINE_EXCEPTION(BundleError, ValueError)
MP_DEFINE_EXCEPTION(CoreError, RuntimeError)

MP_NORETURN void mt_raise_text(const mp_obj_type_t *type, const char *text)
{
    mp_obj_t message = mp_obj_new_str(text, strlen(text));
    nlr_raise(mp_obj_new_exception_arg1(type, message));
}

MP_NORETURN void mt_raise_status(int status, const char *where)
{
    vstr_t text;
    vstr_init(&text, 96);
    vstr_add_str(&text, where);
    vstr_add_str(&text, ": ");
    vstr_add_str(&text, mt_status_str((mt_status)status));
    nlr_raise(mp_obj_new_exception_arg1(&mp_type_CoreError, mp_obj_new_str_from_vstr(&text)));
}

/* aligned(buffer) -> True when its data starts on a 4-byte boundary (what the
 * bundle reader and the data loader need; bytearray data always does). */
static mp_obj_t microtrain_aligned(mp_obj_t buffer)
{
    mp_buffer_info_t info;
    mp_get_buffer_raise(buffer, &info, MP_BUFFER_READ);
    return mp_obj_new_bool((uintptr_t)info.buf % 4 == 0);
}
static MP_DEFINE_CONST_FUN_OBJ_1(microtrain_aligned_obj, microtrain_aligned);

/* status_text(code) -> the core's one-line text for an mt_status code */
static mp_obj_t microtrain_status_text(mp_obj_t code)
{
    const char *text = mt_status_str((mt_status)mp_obj_get_int(code));
    return mp_obj_new_str(text, strlen(text));
}
static MP_DEFINE_CONST_FUN_OBJ_1(microtrain_status_text_obj, microtrain_status_text);

static const mp_rom_map_elem_t microtrain_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__microtrain) },
    { MP_ROM_QSTR(MP_QSTR_Bundle), MP_ROM_PTR(&mt_bundle_type) },
    { MP_ROM_QSTR(MP_QSTR_Executor), MP_ROM_PTR(&mt_executor_type) },
    { MP_ROM_QSTR(MP_QSTR_BundleError), MP_ROM_PTR(&mp_type_BundleError) },
    { MP_ROM_QSTR(MP_QSTR_CoreError), MP_ROM_PTR(&mp_type_CoreError) },
    { MP_ROM_QSTR(MP_QSTR_aligned), MP_ROM_PTR(&microtrain_aligned_obj) },
    { MP_ROM_QSTR(MP_QSTR_status_text), MP_ROM_PTR(&microtrain_status_text_obj) },
    { MP_ROM_QSTR(MP_QSTR_KERNEL_ABI_VERSION), MP_ROM_INT(MT_KERNEL_ABI_VERSION) },
    { MP_ROM_QSTR(MP_QSTR_BUNDLE_MAJOR), MP_ROM_INT(MT_BUNDLE_MAJOR) },
    { MP_ROM_QSTR(MP_QSTR_BUNDLE_MINOR), MP_ROM_INT(MT_BUNDLE_MINOR) },
    { MP_ROM_QSTR(MP_QSTR_WHERE_ARENA), MP_ROM_INT(MT_INIT_ARENA) },
    { MP_ROM_QSTR(MP_QSTR_WHERE_FLASH), MP_ROM_INT(MT_INIT_FLASH) },
    { MP_ROM_QSTR(MP_QSTR_TRAIN_SHUFFLE), MP_ROM_INT(MT_TRAIN_SHUFFLE) },
    { MP_ROM_QSTR(MP_QSTR_TRAIN_EVAL_EPOCH), MP_ROM_INT(MT_TRAIN_EVAL_EPOCH) },
    { MP_ROM_QSTR(MP_QSTR_LABEL_INDEX), MP_ROM_INT(MT_LABEL_INDEX) },
    { MP_ROM_QSTR(MP_QSTR_LABEL_DENSE), MP_ROM_INT(MT_LABEL_DENSE) },
};
static MP_DEFINE_CONST_DICT(microtrain_globals, microtrain_globals_table);

const mp_obj_module_t microtrain_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&microtrain_globals,
};

MP_REGISTER_MODULE(MP_QSTR__microtrain, microtrain_user_cmodule);
