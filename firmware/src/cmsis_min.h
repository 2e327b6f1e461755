/* The few Cortex-M system registers the firmware touches (addresses from the ARMv6-M/ARMv7-M
 * architecture reference manuals), so the build needs no CMSIS package. */
#ifndef TINYNAS_CMSIS_MIN_H
#define TINYNAS_CMSIS_MIN_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define SCB_CPUID REG32(0xE000ED00u)
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_AIRCR REG32(0xE000ED0Cu)
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_AIRCR_RESET (0x05FA0000u | (1u << 2))

#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

#define DEMCR REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)

static inline uint32_t irq_save(void) {
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void irq_restore(uint32_t primask) {
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

static inline void dsb_isb(void) {
    __asm volatile("dsb\n isb" ::: "memory");
}

#endif
