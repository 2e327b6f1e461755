/* CONV_2D and DEPTHWISE_CONV_2D: reference_integer_ops::ConvPerChannel and
 * DepthwiseConvPerChannel. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

void tn_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int8_t *shift, int8_t *out)
{
    int oy, ox, oc, ky, kx, ic;
    const int32_t in_c = p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_w;
            for (oc = 0; oc < p->out_c; ++oc) {
                const int8_t *wc = w + (int32_t)oc * p->k_h * p->k_w * in_c;
                int32_t acc = 0;
                for (ky = 0; ky < p->k_h; ++ky) {
                    const int y = y0 + p->dil_h * ky;
                    if (y < 0 || y >= p->in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->k_w; ++kx) {
                        const int x = x0 + p->dil_w * kx;
                        const int8_t *pi;
                        const int8_t *pw;
                        if (x < 0 || x >= p->in_w) {
                            continue;
                        }
                        pi = in + ((int32_t)y * p->in_w + x) * in_c;
                        pw = wc + ((int32_t)ky * p->k_w + kx) * in_c;
                        for (ic = 0; ic < in_c; ++ic) {
                            acc += (int32_t)pw[ic] * ((int32_t)pi[ic] + p->in_offset);
                        }
                    }
                }
                if (bias) {
                    acc += bias[oc];
                }
                acc = tn_mbqm(acc, mult[oc], shift[oc]) + p->out_offset;
                *out++ = (int8_t)tn_clamp(acc, p->act_min, p->act_max);
            }
        }
    }
}

void tn_depthwise_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            int8_t *out)
{
    int oy, ox, ic, m, ky, kx;
    const int32_t out_c = p->out_c;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int y0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int x0 = ox * p->stride_w - p->pad_w;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_mult; ++m) {
                    const int oc = m + ic * p->depth_mult;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int y = y0 + p->dil_h * ky;
                        if (y < 0 || y >= p->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int x = x0 + p->dil_w * kx;
                            int32_t v;
                            if (x < 0 || x >= p->in_w) {
                                continue;
                            }
                            v = in[((int32_t)y * p->in_w + x) * p->in_c + ic];
                            acc += (int32_t)w[((int32_t)ky * p->k_w + kx) * out_c + oc] *
                                   (v + p->in_offset);
                        }
                    }
                    if (bias) {
                        acc += bias[oc];
                    }
                    acc = tn_mbqm(acc, mult[oc], shift[oc]) + p->out_offset;
                    out[oc] = (int8_t)tn_clamp(acc, p->act_min, p->act_max);
                }
            }
            out += out_c;
        }
    }
}
