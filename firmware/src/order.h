/* The sample order of an epoch, the same as board/order.py (Fisher-Yates driven
 * by xorshift32 seeded by (seed, epoch)), so board and host train on the same batches. */
#ifndef ORDER_H
#define ORDER_H

#include <stdint.h>

void epoch_order(int32_t *order, uint32_t n_samples, uint32_t seed, uint32_t epoch, int shuffle);

#endif
