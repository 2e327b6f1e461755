#include "stack.h"

#define STACK_PATTERN 0xA5A5A5A5u

extern uint32_t _sstack, _estack;

__attribute__((noinline)) void stack_paint(void) {
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    /* Leave a margin below the live frame of this very function. */
    uint32_t *limit = sp - 16;
    for (uint32_t *p = &_sstack; p < limit; ++p) {
        *p = STACK_PATTERN;
    }
}

uint32_t stack_used(void) {
    const uint32_t *p = &_sstack;
    while (p < &_estack && *p == STACK_PATTERN) {
        ++p;
    }
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)p);
}

uint32_t stack_size(void) {
    return (uint32_t)((uintptr_t)&_estack - (uintptr_t)&_sstack);
}
