#include "counter.h"

#include "cmsis_min.h"

#define SYSTICK_MAX 0x00FFFFFFu

static volatile uint32_t systick_wraps;
static int counter_kind = COUNTER_SYSTICK;
static uint32_t dwt_high;
static uint32_t dwt_last;
static uint32_t overhead;

void SysTick_Handler(void) {
    systick_wraps++;
}

static int dwt_works(void) {
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
    uint32_t before = DWT_CYCCNT;
    for (volatile int i = 0; i < 16; ++i) {
    }
    return DWT_CYCCNT != before;
#else
    return 0;
#endif
}

static uint64_t systick_now(void) {
    uint32_t primask = irq_save();
    uint32_t value = SYST_CVR;
    uint32_t wraps = systick_wraps;
    /* A wrap whose interrupt has not run yet: re-read so value and wraps agree. */
    if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
        value = SYST_CVR;
        wraps++;
    }
    irq_restore(primask);
    return ((uint64_t)wraps << 24) + (SYSTICK_MAX - value);
}

static uint64_t dwt_now(void) {
    /* Extends the 32-bit counter; valid while calls are less than 2^32 cycles apart. */
    uint32_t primask = irq_save();
    uint32_t now = DWT_CYCCNT;
    if (now < dwt_last) {
        dwt_high++;
    }
    dwt_last = now;
    uint64_t result = ((uint64_t)dwt_high << 32) | now;
    irq_restore(primask);
    return result;
}

uint64_t counter_now(void) {
    return counter_kind == COUNTER_DWT ? dwt_now() : systick_now();
}

int counter_init(void) {
    SYST_RVR = SYSTICK_MAX;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* core clock, interrupt on wrap, enabled */
    counter_kind = dwt_works() ? COUNTER_DWT : COUNTER_SYSTICK;
    uint32_t best = UINT32_MAX;
    for (int i = 0; i < 8; ++i) {
        uint64_t a = counter_now();
        uint64_t b = counter_now();
        if ((uint32_t)(b - a) < best) {
            best = (uint32_t)(b - a);
        }
    }
    overhead = best;
    return counter_kind;
}

uint32_t counter_overhead(void) {
    return overhead;
}
