/* CMSDK APB UART at 0x40004000: DATA +0x0, STATE +0x4 (bit0 TX full, bit1 RX
 * full), CTRL +0x8 (bit0 TX enable, bit1 RX enable), BAUDDIV +0x10. */
#include "uart.h"

#define UART_BASE 0x40004000u
#define REG(off) (*(volatile uint32_t *)(UART_BASE + (off)))
#define DATA REG(0x0)
#define STATE REG(0x4)
#define CTRL REG(0x8)
#define BAUDDIV REG(0x10)

enum { TX_FULL = 1u << 0, RX_FULL = 1u << 1, TX_ENABLE = 1u << 0, RX_ENABLE = 1u << 1 };

void uart_init(void)
{
    BAUDDIV = 217;  /* 25 MHz / 115200; QEMU only needs >= 16 */
    CTRL = TX_ENABLE | RX_ENABLE;
}

int uart_read_byte(void)
{
    if (!(STATE & RX_FULL)) return -1;
    return (int)(DATA & 0xFFu);
}

void uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (STATE & TX_FULL) {
        }
        DATA = data[i];
    }
}
