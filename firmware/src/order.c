#include "order.h"

static uint32_t xorshift32(uint32_t state)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

void epoch_order(int32_t *order, uint32_t n_samples, uint32_t seed, uint32_t epoch, int shuffle)
{
    for (uint32_t i = 0; i < n_samples; i++) order[i] = (int32_t)i;
    if (!shuffle) return;
    /* mix so that nearby seeds / epochs give unrelated streams; never zero */
    uint32_t state = seed * 0x9E3779B1u + (epoch + 1u) * 0x85EBCA77u;
    if (state == 0) state = 0x6D2B79F5u;
    for (uint32_t i = n_samples - 1; i > 0; i--) {
        state = xorshift32(state);
        uint32_t j = state % (i + 1u);
        int32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
