/* Reset and fault entry points for Cortex-M3/M4F: copy .data, zero .bss,
 * enable the FPU when the build uses it, then main(). */
#include <stdint.h>
#include <string.h>
#include "semihost.h"
#include "stack_usage.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
int main(void);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void)
{
    stack_paint();
    memcpy(&__data_start, &__data_load, (size_t)((uint8_t *)&__data_end - (uint8_t *)&__data_start));
    memset(&__bss_start, 0, (size_t)((uint8_t *)&__bss_end - (uint8_t *)&__bss_start));
#if defined(__ARM_FP)
    CPACR |= 0xFu << 20;  /* CP10 and CP11 full access: any float instruction before this faults */
    __asm volatile("dsb\n isb");
#endif
    semihost_exit(main());
}

/* A fault ends the emulation with a status the host can see. */
static void Fault_Handler(void)
{
    semihost_write0("firmware: fault\n");
    semihost_exit(70);
}

__attribute__((section(".vectors"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top, Reset_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};
