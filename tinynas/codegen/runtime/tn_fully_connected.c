/* FULLY_CONNECTED: the integer arithmetic of TensorFlow Lite's int8 kernel, whose final
 * rescaling rounds once (see tn_mbqm_single). */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

void tn_fully_connected_s8(const tn_fc_params *p, const int8_t *in, const int8_t *w,
                           const int32_t *bias, const int32_t *mult, const int8_t *shift,
                           int8_t *out)
{
    int32_t b, u, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = in + b * p->depth;
        for (u = 0; u < p->units; ++u) {
            const int8_t *wu = w + u * p->depth;
            const int32_t k = p->per_channel ? u : 0;
            int32_t acc = 0;
            for (d = 0; d < p->depth; ++d) {
                acc += ((int32_t)wu[d] + p->w_offset) * ((int32_t)x[d] + p->in_offset);
            }
            if (bias) {
                acc += bias[u];
            }
            acc = tn_mbqm_single(acc, mult[k], shift[k]) + p->out_offset;
            out[b * p->units + u] = (int8_t)tn_clamp(acc, p->act_min, p->act_max);
        }
    }
}
