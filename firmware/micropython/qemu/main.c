// Power-on of the agent's QEMU board: MicroPython up, then the frozen mt_boot.py, which
// mounts the flash (littlefs on a semihosted host file) and runs the agent for ever. If the
// agent ever returns or raises, the board restarts it, as a watchdog would.
#include <stdlib.h>

#include "py/compile.h"
#include "py/runtime.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/pyexec.h"

#define STACK_HEADROOM 1024     // bytes below the stack limit MicroPython's check keeps free
#define RESTART_DELAY_MS 1000

extern uint32_t _ebss, _estack;
static uint32_t gc_heap[MICROPY_HEAP_SIZE / sizeof(uint32_t)];

int main(int argc, char **argv) {
    mp_cstack_init_with_sp_here((char *)&_estack - (char *)&_ebss - STACK_HEADROOM);
    gc_init(gc_heap, (char *)gc_heap + MICROPY_HEAP_SIZE);
    for (;;) {
        mp_init();
        pyexec_frozen_module("mt_boot.py", false);
        mp_printf(&mp_plat_print, "board: agent ended; restarting\n");
        gc_sweep_all();
        mp_deinit();
        mp_hal_delay_ms(RESTART_DELAY_MS);
    }
}

void gc_collect(void) {
    gc_collect_start();
    gc_helper_collect_regs_and_stack();
    gc_collect_end();
}

void nlr_jump_fail(void *val) {
    mp_printf(&mp_plat_print, "uncaught NLR\n");
    exit(1);
}
