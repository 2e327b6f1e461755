/* ARM CMSDK APB UART0 of the MPS2 boards (and QEMU's model of it). */
#include "uart.h"

#include "cmsis_min.h"

#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_INTSTATUS REG32(UART0_BASE + 0x0Cu)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define NVIC_ISER0 REG32(0xE000E100u)
#define UART0_RX_IRQ 0u

#define STATE_TX_FULL (1u << 0)
#define STATE_RX_FULL (1u << 1)
#define STATE_OVERRUN (3u << 2)
#define CTRL_TX_RX_ENABLE 3u
#define CTRL_RX_INTERRUPT (1u << 3)
#define INT_RX (1u << 1)

void uart_init(uint32_t core_clock_hz, uint32_t baud) {
    uint32_t div = core_clock_hz / baud;
    /* The CMSDK UART (and QEMU) refuse to run below a divider of 16. */
    UART_BAUDDIV = div < 16u ? 16u : div;
    UART_CTRL = CTRL_TX_RX_ENABLE | CTRL_RX_INTERRUPT;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

/* Only wakes the core from uart_idle(); the byte stays in DATA for uart_getc(). */
void UART0RX_Handler(void) {
    UART_INTSTATUS = INT_RX;
}

void uart_idle(void) {
    /* With interrupts masked, WFI still wakes on a pending one: no byte can slip in between the
     * check and the sleep. */
    uint32_t primask = irq_save();
    if (!(UART_STATE & STATE_RX_FULL)) {
        __asm volatile("wfi");
    }
    irq_restore(primask);
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
