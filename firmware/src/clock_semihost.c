/* Under QEMU the host's monotonic clock through semihosting (SYS_ELAPSED):
 * wall time, which is what link timeouts are about. A board port uses SysTick. */
#include "clock.h"
#include "semihost.h"

uint32_t clock_ms(void)
{
    static uint32_t ticks_per_ms;
    if (ticks_per_ms == 0) {
        uint32_t hz = semihost_tick_hz();
        ticks_per_ms = hz >= 1000u ? hz / 1000u : 1u;
    }
    return (uint32_t)(semihost_elapsed_ticks() / ticks_per_ms);
}
