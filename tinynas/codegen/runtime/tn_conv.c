/* CONV_2D and DEPTHWISE_CONV_2D: reference_integer_ops::ConvPerChannel and
 * DepthwiseConvPerChannel, with the same integer sums in a cheaper order.
 *
 * The kernel window is clipped to the input once per output pixel instead of testing every
 * kernel position, so padding costs nothing inside the MAC loops. With a dilation of one along
 * the width, the valid kernel columns of one row are contiguous in both the NHWC input and the
 * OHWI weights, so a convolution's innermost loop is one dot product over columns x channels. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

/* Functions kept out of line so that the MAC loops inside them get the registers to themselves:
 * inlined into the big window loops they spill their operands to the stack. */
#if defined(__GNUC__)
#define TN_NOINLINE __attribute__((noinline))
#else
#define TN_NOINLINE
#endif

/* First and one-past-last kernel index k in [0, k_n) with 0 <= origin + dil * k < in_n. */
static void tn_kernel_range(int32_t origin, int32_t dil, int32_t k_n, int32_t in_n,
                            int32_t *first, int32_t *last)
{
    int32_t lo = 0;
    int32_t hi = k_n;
    if (origin < 0) {
        lo = (-origin + dil - 1) / dil;
    }
    if (origin + dil * (k_n - 1) >= in_n) {
        hi = in_n > origin ? (in_n - origin + dil - 1) / dil : 0;
    }
    *first = lo;
    *last = hi > lo ? hi : lo;
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#include <string.h>

/* Rotate right by one byte (the compiler folds it into SXTAB16/SXTB16's rotation). */
static inline int32_t tn_ror8(int32_t v)
{
    return (int32_t)(((uint32_t)v >> 8) | ((uint32_t)v << 24));
}

/* sum of w[i] * (x[i] + offset) for i < n. With the DSP extension (Cortex-M4, M7, M33) four
 * bytes are loaded at once, sign-extended two at a time into 16-bit lanes (the offset added on
 * the way: |x + offset| <= 255 fits a lane) and multiplied-accumulated in pairs by SMLAD. The
 * sum is the same integer as the scalar loop's, only added in another order. */
static inline int32_t tn_dot_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t offset)
{
    const int16x2_t off = (int16x2_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    int32_t acc = 0;
    for (; n >= 4; n -= 4) {
        int32_t xw, ww;
        memcpy(&xw, x, 4);
        memcpy(&ww, w, 4);
        acc = __smlad(__sxtab16(off, xw), __sxtb16(ww), acc);
        acc = __smlad(__sxtab16(off, tn_ror8(xw)), __sxtb16(tn_ror8(ww)), acc);
        x += 4;
        w += 4;
    }
    for (; n > 0; --n) {
        acc += (int32_t)*w++ * ((int32_t)*x++ + offset);
    }
    return acc;
}
#else
/* sum of w[i] * (x[i] + offset) for i < n, four products per loop iteration. */
static inline int32_t tn_dot_s8(const int8_t *x, const int8_t *w, int32_t n, int32_t offset)
{
    int32_t acc = 0;
    for (; n >= 4; n -= 4) {
        acc += (int32_t)w[0] * ((int32_t)x[0] + offset);
        acc += (int32_t)w[1] * ((int32_t)x[1] + offset);
        acc += (int32_t)w[2] * ((int32_t)x[2] + offset);
        acc += (int32_t)w[3] * ((int32_t)x[3] + offset);
        x += 4;
        w += 4;
    }
    for (; n > 0; --n) {
        acc += (int32_t)*w++ * ((int32_t)*x++ + offset);
    }
    return acc;
}
#endif

/* tn_dot_s8 as a call, for the loops with many live values. */
static TN_NOINLINE int32_t tn_dot_call(const int8_t *x, const int8_t *w, int32_t n,
                                       int32_t offset)
{
    return tn_dot_s8(x, w, n, offset);
}

/* A 1x1 convolution without padding (the pointwise half of a depthwise-separable block): every
 * window is one in-range pixel, so each output is a single dot product over the channels. Kept
 * apart so the per-output path holds its few values in registers. */
static TN_NOINLINE void tn_conv1x1_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                          const int32_t *bias, const int32_t *mult, const int8_t *shift,
                          int8_t *out)
{
    const int32_t in_c = p->in_c, out_c = p->out_c, in_offset = p->in_offset;
    const int32_t out_offset = p->out_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t row_step = (int32_t)p->stride_h * p->in_w * in_c;
    const int32_t col_step = (int32_t)p->stride_w * in_c;
    int32_t oy, ox, oc;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int8_t *pi = in + oy * row_step;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int8_t *wc = w;
            for (oc = 0; oc < out_c; ++oc) {
                int32_t acc = tn_dot_s8(pi, wc, in_c, in_offset);
                if (bias) {
                    acc += bias[oc];
                }
                acc = tn_mbqm_pos(acc, mult[oc], shift[oc]) + out_offset;
                *out++ = (int8_t)tn_clamp(acc, act_min, act_max);
                wc += in_c;
            }
            pi += col_step;
        }
    }
}

void tn_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int8_t *shift, int8_t *out)
{
    const int32_t in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int32_t k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    const int32_t filter_size = (int32_t)p->k_h * k_w * in_c;
    int32_t oy, ox, oc, ky, kx;
    if (p->k_h == 1 && k_w == 1 && p->pad_h == 0 && p->pad_w == 0) {
        tn_conv1x1_s8(p, in, w, bias, mult, shift, out);
        return;
    }
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        tn_kernel_range(y0, dil_h, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            const int8_t *wc = w;
            int32_t kx0, kx1, run;
            tn_kernel_range(x0, dil_w, k_w, in_w, &kx0, &kx1);
            run = (kx1 - kx0) * in_c;
            for (oc = 0; oc < out_c; ++oc) {
                int32_t acc = 0;
                for (ky = ky0; ky < ky1; ++ky) {
                    const int8_t *pi = in + ((y0 + dil_h * ky) * in_w + x0 + dil_w * kx0) * in_c;
                    const int8_t *pw = wc + (ky * k_w + kx0) * in_c;
                    if (dil_w == 1) {
                        acc += tn_dot_call(pi, pw, run, in_offset);
                    } else {
                        for (kx = kx0; kx < kx1; ++kx) {
                            acc += tn_dot_call(pi, pw, in_c, in_offset);
                            pi += dil_w * in_c;
                            pw += in_c;
                        }
                    }
                }
                if (bias) {
                    acc += bias[oc];
                }
                acc = tn_mbqm_pos(acc, mult[oc], shift[oc]) + out_offset;
                *out++ = (int8_t)tn_clamp(acc, act_min, act_max);
                wc += filter_size;
            }
        }
    }
}

/* One output of a depthwise convolution: channel `c` of the input against weight column `c`
 * over the clipped window, input rows `row` bytes apart and columns `col` bytes apart. */
static inline int32_t tn_dw_window(const int8_t *pi, const int8_t *pw, int32_t rows,
                                   int32_t cols, int32_t row, int32_t col, int32_t w_row,
                                   int32_t w_col, int32_t offset)
{
    int32_t acc = 0;
    int32_t r, k;
    for (r = 0; r < rows; ++r) {
        const int8_t *x = pi;
        const int8_t *v = pw;
        for (k = 0; k < cols; ++k) {
            acc += (int32_t)*v * ((int32_t)*x + offset);
            x += col;
            v += w_col;
        }
        pi += row;
        pw += w_row;
    }
    return acc;
}

/* Four neighbouring channels of tn_dw_window at once (depth multiplier 1): the loop overhead
 * is shared and the four inputs and weights are adjacent bytes. */
static inline void tn_dw_window4(const int8_t *pi, const int8_t *pw, int32_t rows, int32_t cols,
                                 int32_t row, int32_t col, int32_t w_row, int32_t w_col,
                                 int32_t offset, int32_t acc[4])
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t r, k;
    for (r = 0; r < rows; ++r) {
        const int8_t *x = pi;
        const int8_t *v = pw;
        for (k = 0; k < cols; ++k) {
            a0 += (int32_t)v[0] * ((int32_t)x[0] + offset);
            a1 += (int32_t)v[1] * ((int32_t)x[1] + offset);
            a2 += (int32_t)v[2] * ((int32_t)x[2] + offset);
            a3 += (int32_t)v[3] * ((int32_t)x[3] + offset);
            x += col;
            v += w_col;
        }
        pi += row;
        pw += w_row;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void tn_depthwise_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            int8_t *out)
{
    const int32_t in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int32_t k_w = p->k_w, dil_h = p->dil_h, dil_w = p->dil_w;
    const int32_t depth_mult = p->depth_mult;
    const int32_t in_offset = p->in_offset, out_offset = p->out_offset;
    const int32_t act_min = p->act_min, act_max = p->act_max;
    /* Strides between kernel rows and columns, in the input and in the 1HW(C*M) weights. */
    const int32_t in_row = dil_h * in_w * in_c, in_col = dil_w * in_c;
    const int32_t w_row = k_w * out_c;
    int32_t oy, ox, ic, m;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t y0 = oy * p->stride_h - p->pad_h;
        int32_t ky0, ky1;
        tn_kernel_range(y0, dil_h, p->k_h, p->in_h, &ky0, &ky1);
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t x0 = ox * p->stride_w - p->pad_w;
            int32_t kx0, kx1;
            const int8_t *pi;
            const int8_t *pw;
            tn_kernel_range(x0, dil_w, k_w, in_w, &kx0, &kx1);
            pi = in + ((y0 + dil_h * ky0) * in_w + x0 + dil_w * kx0) * in_c;
            pw = w + (ky0 * k_w + kx0) * out_c;
            ic = 0;
            if (depth_mult == 1) {
                for (; ic + 4 <= in_c; ic += 4) {
                    int32_t acc[4];
                    tn_dw_window4(pi + ic, pw + ic, ky1 - ky0, kx1 - kx0, in_row, in_col, w_row,
                                  out_c, in_offset, acc);
                    for (m = 0; m < 4; ++m) {
                        const int32_t oc = ic + m;
                        int32_t v = acc[m] + (bias ? bias[oc] : 0);
                        v = tn_mbqm_pos(v, mult[oc], shift[oc]) + out_offset;
                        out[oc] = (int8_t)tn_clamp(v, act_min, act_max);
                    }
                }
            }
            for (; ic < in_c; ++ic) {
                for (m = 0; m < depth_mult; ++m) {
                    const int32_t oc = m + ic * depth_mult;
                    int32_t acc = tn_dw_window(pi + ic, pw + oc, ky1 - ky0, kx1 - kx0, in_row,
                                               in_col, w_row, out_c, in_offset);
                    if (bias) {
                        acc += bias[oc];
                    }
                    acc = tn_mbqm_pos(acc, mult[oc], shift[oc]) + out_offset;
                    out[oc] = (int8_t)tn_clamp(acc, act_min, act_max);
                }
            }
            out += out_c;
        }
    }
}
