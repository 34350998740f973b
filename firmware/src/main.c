#include "semihost.h"
#include "uart.h"
int main(void)
{
    uart_init();
    uart_write((const uint8_t *)"hello\n", 6);
    return 3;
}
