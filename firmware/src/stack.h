/* Stack high-water mark by painting: the stack is filled with a pattern at reset and the
 * deepest overwritten word tells how much of it was ever used. */
#ifndef TINYNAS_STACK_H
#define TINYNAS_STACK_H

#include <stdint.h>

void stack_paint(void);
uint32_t stack_used(void);
uint32_t stack_size(void);

#endif
