/* _microtrain: the microtrain C core (core_cy/src) as a MicroPython user C module.
 * Shared declarations of the module's files: the Bundle and Executor types,
 * the exceptions, and the storage backend over a MicroPython stream. */
#ifndef MOD_MICROTRAIN_H
#define MOD_MICROTRAIN_H

#include "py/obj.h"
#include "mt_bundle.h"
#include "mt_swap.h"

extern const mp_obj_type_t mp_type_BundleError;   /* ValueError: the bundle is not runnable */
extern const mp_obj_type_t mp_type_CoreError;     /* RuntimeError: an executor status code */
extern const mp_obj_type_t mt_bundle_type;
extern const mp_obj_type_t mt_executor_type;

/* Raises `type` carrying `text` (a RAM string: kept whatever the port's error reporting level). */
MP_NORETURN void mt_raise_text(const mp_obj_type_t *type, const char *text);
/* Raises CoreError "<where>: <mt_status_str(status)>". */
MP_NORETURN void mt_raise_status(int status, const char *where);

/* A validated bundle: the C view over a caller's buffer, which it keeps alive. */
typedef struct {
    mp_obj_base_t base;
    mp_obj_t buffer;        /* the bundle bytes (never copied) */
    const uint8_t *bytes;
    mt_bundle bundle;       /* points into bytes */
} mt_bundle_obj;

/* Flash stand-in: a MicroPython stream (file) addressed by seek + read/write. */
typedef struct {
    mp_obj_t stream;
    uint32_t size;
    int error;              /* errno of the last failed call, 0 when none */
} mt_stream_storage;

void mt_stream_storage_init(mt_stream_storage *store, mp_obj_t stream, uint32_t size);
mt_storage mt_stream_storage_interface(mt_stream_storage *store);
/* Synchronous host-side access (between iterations); 0 on success. */
int mt_stream_storage_read(mt_stream_storage *store, uint32_t offset, uint8_t *dst, uint32_t n);
int mt_stream_storage_write(mt_stream_storage *store, uint32_t offset, const uint8_t *src, uint32_t n);

/* Trains n_iter iterations one by one and sums their loss and correct counts in
 * double exactly as numpy's float32.sum(dtype=float64) does (pairwise), so the
 * sums equal the CPython engine's. Returns an mt_status. */
int mt_train_sums(const mt_program *prog, uint8_t *arena, const mt_dataset *data,
                  const int32_t *order, uint32_t n_order, uint32_t first_batch, uint32_t n_iter,
                  const mt_hooks *hooks, double *loss_sum, double *correct_sum);

#endif
