/* Faults are reported to the host as a FAULT frame, then the core resets. */
#ifndef TINYNAS_FAULT_H
#define TINYNAS_FAULT_H

#include <stdint.h>

enum {
    FAULT_HARD = 1,
    FAULT_UNEXPECTED_EXCEPTION = 2,
};

/* `frame` is the stacked exception frame (r0-r3, r12, lr, pc, xpsr) or NULL. */
__attribute__((noreturn)) void fault_report(const uint32_t *frame, uint32_t kind);

#endif
