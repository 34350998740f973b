/* CMSDK UART0 of the MPS2 boards: the serial line the host talks over. */
#ifndef UART_H
#define UART_H

#include <stdint.h>

void uart_init(void);
int uart_read_byte(void);          /* next received byte, or -1 if none is waiting */
void uart_write(const uint8_t *data, uint32_t n);

#endif
