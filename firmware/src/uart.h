/* The serial port the protocol runs over. One implementation per board family. */
#ifndef TINYNAS_UART_H
#define TINYNAS_UART_H

#include <stdint.h>

void uart_init(uint32_t core_clock_hz, uint32_t baud);
void uart_putc(uint8_t byte);
/* The next received byte, or -1 when none is waiting. */
int uart_getc(void);
/* Sleep until a byte may have arrived (or any other interrupt); returns at once if one has.
 * Idling in WFI also lets QEMU's -icount clock follow real time instead of spinning a host core. */
void uart_idle(void);

#endif
