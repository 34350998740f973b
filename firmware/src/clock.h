/* Milliseconds since boot (link timeouts, progress cadence). */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>

uint32_t clock_ms(void);

#endif
