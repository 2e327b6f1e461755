/* SOFTMAX: the int8 kernel TensorFlow Lite runs for its reference resolver
 * (optimized_ops::Softmax with a table of exponentials), in single precision. Only the
 * summation and the final scaling use floating point, as there. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

void tn_softmax_s8(const tn_softmax_params *p, const float *table, const int8_t *in,
                   int8_t *out)
{
    int32_t i, j;
    for (i = 0; i < p->outer; ++i) {
        int32_t max_val = -128;
        float sum = 0.0f;
        float inv;
        for (j = 0; j < p->depth; ++j) {
            if (in[j] > max_val) {
                max_val = in[j];
            }
        }
        /* table[255 - (max - x)] = exp(-scale * (max - x)): the index stays within 0..255. */
        for (j = 0; j < p->depth; ++j) {
            sum += table[255 - max_val + in[j]];
        }
        inv = 1.0f / (sum * p->out_scale);
        for (j = 0; j < p->depth; ++j) {
            const float scaled = table[255 - max_val + in[j]] * inv;
            const int32_t q = (int32_t)tn_roundf(scaled) + p->out_zp;
            out[j] = (int8_t)tn_clamp(q, -128, 127);
        }
        in += p->depth;
        out += p->depth;
    }
}
