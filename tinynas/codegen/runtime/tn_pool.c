/* AVERAGE_POOL_2D and MAX_POOL_2D: reference_integer_ops::AveragePool and MaxPool. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

static void tn_pool_s8(const tn_pool_params *p, const int8_t *in, int8_t *out, int average)
{
    int oy, ox, c, y, x;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_h;
        const int ky0 = y0 < 0 ? -y0 : 0;
        const int ky1 = p->k_h < p->in_h - y0 ? p->k_h : p->in_h - y0;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_w;
            const int kx0 = x0 < 0 ? -x0 : 0;
            const int kx1 = p->k_w < p->in_w - x0 ? p->k_w : p->in_w - x0;
            for (c = 0; c < p->channels; ++c) {
                int32_t acc = average ? 0 : -128;
                int32_t count = 0;
                for (y = ky0; y < ky1; ++y) {
                    for (x = kx0; x < kx1; ++x) {
                        const int32_t v =
                            in[((int32_t)(y0 + y) * p->in_w + (x0 + x)) * p->channels + c];
                        if (average) {
                            acc += v;
                        } else if (v > acc) {
                            acc = v;
                        }
                        ++count;
                    }
                }
                if (average && count > 0) {
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                }
                *out++ = (int8_t)tn_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

void tn_avg_pool_s8(const tn_pool_params *p, const int8_t *in, int8_t *out)
{
    tn_pool_s8(p, in, out, 1);
}

void tn_max_pool_s8(const tn_pool_params *p, const int8_t *in, int8_t *out)
{
    tn_pool_s8(p, in, out, 0);
}
