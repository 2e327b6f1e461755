/* Data movement for the shape operators. */
#include <string.h>

#include "tinynas_kernels.h"

void tn_copy_blocks(const int8_t *in, int8_t *out, int32_t count, int32_t block,
                    int32_t in_stride, int32_t out_stride)
{
    int32_t i;
    for (i = 0; i < count; ++i) {
        memcpy(out + i * out_stride, in + i * in_stride, (size_t)block);
    }
}
