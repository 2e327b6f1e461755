/* ARM CMSDK APB UART0 of the MPS2 boards (and QEMU's model of it). */
#include "uart.h"

#include "cmsis_min.h"

#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define STATE_OVERRUN (3u << 2)
#define CTRL_TX_RX_ENABLE 3u

void uart_init(uint32_t core_clock_hz, uint32_t baud) {
    uint32_t div = core_clock_hz / baud;
    /* The CMSDK UART (and QEMU) refuse to run below a divider of 16. */
    UART_BAUDDIV = div < 16u ? 16u : div;
    UART_CTRL = CTRL_TX_RX_ENABLE;
}

void uart_putc(uint8_t byte) {
    while (UART_STATE & STATE_TX_FULL) {
    }
    UART_DATA = byte;
}

int uart_getc(void) {
    uint32_t state = UART_STATE;
    if (state & STATE_OVERRUN) {
        UART_STATE = STATE_OVERRUN; /* write-one-to-clear; the frame CRC catches the loss */
    }
    if (state & STATE_RX_FULL) {
        return (int)(UART_DATA & 0xFFu);
    }
    return -1;
}
