/* A 64-bit count of core clock cycles: the DWT cycle counter where the core has one (M3, M4,
 * M7 on real silicon), else SysTick clocked from the core with its wraps counted in an
 * interrupt (M0+, and QEMU, which models no DWT; under `-icount` QEMU's SysTick advances with
 * executed instructions instead of cycles). */
#ifndef TINYNAS_COUNTER_H
#define TINYNAS_COUNTER_H

#include <stdint.h>

enum { COUNTER_SYSTICK = 0, COUNTER_DWT = 1 };

/* Start counting; returns COUNTER_SYSTICK or COUNTER_DWT. */
int counter_init(void);
uint64_t counter_now(void);
/* Ticks that two back-to-back counter_now() calls report; subtract from measurements. */
uint32_t counter_overhead(void);

#endif
