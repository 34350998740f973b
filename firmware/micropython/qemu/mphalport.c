// HAL of the agent's QEMU port. Unlike ports/qemu (stdio on the UART), the UART carries only
// protocol frames (board/mp_uart.py through mtboard), so MicroPython's stdout - the agent's
// "board: ..." log lines, tracebacks - goes to the host console through semihosting.
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "shared/runtime/semihosting_arm.h"

uintptr_t ticks_ms(void);
uintptr_t ticks_us(void);

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    return 0;   // nothing to read on stdin: the host talks to the agent over the UART
}

int mp_hal_stdin_rx_chr(void) {
    for (;;) {  // never called by the agent; a blocking read would wait for ever, as documented
        mp_hal_delay_ms(1000);
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    mp_semihosting_tx_strn(str, len);
    return len;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return ticks_ms();
}

mp_uint_t mp_hal_ticks_us(void) {
    return ticks_us();
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return 0;
}

uint64_t mp_hal_time_ns(void) {   // no RTC: time since boot (littlefs stamps files with it)
    return (uint64_t)ticks_us() * 1000;
}

void mp_hal_delay_ms(mp_uint_t ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    while (mp_hal_ticks_ms() - start < ms) {
        mp_handle_pending(true);
    }
}

void mp_hal_delay_us(mp_uint_t us) {
    mp_uint_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

static uint32_t random_state;   // os.urandom's source: an LCG, as ports/qemu
void mp_hal_get_random(size_t n, uint8_t *buf) {
    random_state ^= (uint32_t)ticks_us();
    for (size_t i = 0; i < n; ++i) {
        random_state = random_state * 1664525 + 1013904223;
        buf[i] = random_state >> 24;
    }
}
