/* The core's own float maths: every target (CPython build, Cortex-M4F, M3)
 * computes the same bits, because these use only IEEE +, -, *, / (built with
 * -ffp-contract=off) instead of the C library, whose expf/logf differ in the
 * last bits between glibc and newlib. sqrtf stays the library's: IEEE 754
 * requires it correctly rounded, so it is the same everywhere. */
#ifndef MT_MATH_H
#define MT_MATH_H

#include <stdint.h>

/* e^x, within about 1 ulp; +inf above 88.72, 0 below -103.98, NaN stays NaN. */
float mt_expf(float x);

/* Natural log, within about 1 ulp; -inf at 0, NaN below 0, +inf at +inf. */
float mt_logf(float x);

/* 1 - base^n for base in [0.5, 1] without cancellation (Adam's bias
 * corrections): exact complement steps c(2n) = c(2 - c), c(n+1) = (1 - base) + base c. */
float mt_one_minus_powf(float base, uint32_t n);

#endif
