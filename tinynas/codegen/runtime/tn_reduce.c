/* MEAN (reference_ops::QuantizedMeanOrSum, which TensorFlow Lite takes for every int8 mean,
 * whatever the axes, keep_dims or scales) and REDUCE_MAX. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

void tn_mean_s8(const tn_mean_params *p, const int8_t *in, int8_t *out)
{
    int32_t o, r, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            const int8_t *x = in + o * p->reduce * p->inner + i;
            int32_t sum = 0;
            for (r = 0; r < p->reduce; ++r) {
                sum += x[r * p->inner];
            }
            sum = tn_mbqm(sum - p->in_zp * p->reduce, p->mult, p->shift) + p->out_zp;
            out[o * p->inner + i] = (int8_t)tn_clamp(sum, -128, 127);
        }
    }
}

void tn_reduce_max_s8(const tn_mean_params *p, const int8_t *in, int8_t *out)
{
    int32_t o, r, i;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            const int8_t *x = in + o * p->reduce * p->inner + i;
            int8_t best = -128;
            for (r = 0; r < p->reduce; ++r) {
                if (x[r * p->inner] > best) {
                    best = x[r * p->inner];
                }
            }
            out[o * p->inner + i] = best;
        }
    }
}
