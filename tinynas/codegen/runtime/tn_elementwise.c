/* ADD, SUB, MUL (reference_integer_ops::Add/Mul and their broadcasting forms), QUANTIZE
 * (int8 to int8: reference_ops::Requantize) and table lookups (LOGISTIC, TANH). */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

static int32_t tn_add_one(const tn_binary_params *p, int32_t a, int32_t b)
{
    const int32_t x = (p->in1_offset + a) * ((int32_t)1 << p->left_shift);
    const int32_t y = (p->in2_offset + b) * ((int32_t)1 << p->left_shift);
    const int32_t sx = tn_mbqm_small(x, p->mult1, p->shift1);
    const int32_t sy = tn_mbqm_small(y, p->mult2, p->shift2);
    const int32_t sum = tn_mbqm_small(sx + sy, p->out_mult, p->out_shift) + p->out_offset;
    return tn_clamp(sum, p->act_min, p->act_max);
}

static int32_t tn_mul_one(const tn_binary_params *p, int32_t a, int32_t b)
{
    const int32_t prod = (p->in1_offset + a) * (p->in2_offset + b);
    const int32_t r = p->out_offset + tn_mbqm(prod, p->out_mult, p->out_shift);
    return tn_clamp(r, p->act_min, p->act_max);
}

static void tn_binary_s8(const tn_binary_params *p, const int8_t *in1, const int8_t *in2,
                         int8_t *out, int32_t (*f)(const tn_binary_params *, int32_t, int32_t))
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const int8_t *a = in1 + i0 * p->stride1[0] + i1 * p->stride1[1] +
                                  i2 * p->stride1[2];
                const int8_t *b = in2 + i0 * p->stride2[0] + i1 * p->stride2[1] +
                                  i2 * p->stride2[2];
                for (i3 = 0; i3 < p->dims[3]; ++i3) {
                    *out++ = (int8_t)f(p, a[i3 * p->stride1[3]], b[i3 * p->stride2[3]]);
                }
            }
        }
    }
}

void tn_add_s8(const tn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    tn_binary_s8(p, in1, in2, out, tn_add_one);
}

void tn_mul_s8(const tn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    tn_binary_s8(p, in1, in2, out, tn_mul_one);
}

void tn_requantize_s8(const tn_requantize_params *p, const int8_t *in, int8_t *out)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = tn_mbqm((int32_t)in[i] - p->in_zp, p->mult, p->shift) + p->out_zp;
        out[i] = (int8_t)tn_clamp(v, -128, 127);
    }
}

void tn_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t size)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        out[i] = table[(uint8_t)in[i]];
    }
}
