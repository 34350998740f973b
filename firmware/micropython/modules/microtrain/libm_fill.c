/* The libm precision a bare-metal MicroPython port lacks, for the C core.
 * Float ports (MICROPY_FLOAT_IMPL=float) link a single-precision libm only,
 * yet mt_kernels_reg.c calls double sqrt; double ports lack sqrtf. MicroPython's
 * own software versions (musl's sqrt, fdlibm's sqrtf: correctly rounded, as
 * IEEE 754 requires, so the host's bits) are compiled here under another name
 * and exported as WEAK symbols: a port that links its own keeps it, no clash.
 * micropython.mk compiles this file for bare-metal ports only. */
#include "py/mpconfig.h"

#if MICROPY_FLOAT_IMPL == MICROPY_FLOAT_IMPL_FLOAT
#define sqrt mt_libm_sqrt
#include "lib/libm_dbl/sqrt.c"
#undef sqrt
double sqrt(double x) __attribute__((weak, alias("mt_libm_sqrt")));
#elif MICROPY_FLOAT_IMPL == MICROPY_FLOAT_IMPL_DOUBLE
#define sqrtf mt_libm_sqrtf
#include "lib/libm/ef_sqrt.c"
#undef sqrtf
float sqrtf(float x) __attribute__((weak, alias("mt_libm_sqrtf")));
#endif
