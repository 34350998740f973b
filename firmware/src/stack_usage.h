/* Peak stack use by stack painting: the startup code fills the unused stack
 * with a pattern, and the deepest word overwritten since then is the peak. */
#ifndef STACK_USAGE_H
#define STACK_USAGE_H

#include <stdint.h>

void stack_paint(void);             /* called once, first thing at reset */
uint32_t stack_peak_bytes(void);

#endif
