#include "stack_usage.h"

#define PATTERN 0xA5A5A5A5u
#define MARGIN_WORDS 16u   /* the painting function's own frame stays unpainted */

extern uint32_t __stack_limit[], __stack_top[];

void stack_paint(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack_limit; p < sp - MARGIN_WORDS; p++) *p = PATTERN;
}

uint32_t stack_peak_bytes(void)
{
    uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == PATTERN) p++;
    return (uint32_t)((uint8_t *)__stack_top - (uint8_t *)p);
}
