/* Firmware entry: UART up, agent booted from flash, then its loop forever. */
#include "agent.h"
#include "clock.h"
#include "semihost.h"
#include "uart.h"

int main(void)
{
    uart_init();
    semihost_write0("board: microtrain firmware up\n");
    /* A fresh random-ish first sequence number (docs/protocol.md): the boot time in ms. */
    agent_boot((uint16_t)(clock_ms() * 40503u));
    for (;;) agent_step();
}
