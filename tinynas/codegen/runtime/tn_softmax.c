/* SOFTMAX: reference_ops::Softmax for int8, the kernel TensorFlow Lite's reference resolver
 * runs: gemmlowp's fixed-point exp and reciprocal, integers only (no floating point, so it runs
 * unchanged on cores without an FPU). The output is quantized with scale 1/256, zero point -128. */
#include "tinynas_kernels.h"
#include "tn_fixedpoint.h"

/* Two's complement wrapping add and subtract, as gemmlowp's raw int32 arithmetic behaves. */
static int32_t tn_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t tn_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT with a positive exponent. */
static int32_t tn_sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t tn_exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t one_third = 715827883;
    const int32_t x = tn_add(a, (int32_t)1 << 28);
    const int32_t x2 = tn_srdhm(x, x);
    const int32_t x3 = tn_srdhm(x2, x);
    const int32_t x4 = tn_srdhm(x2, x2);
    const int32_t x4_over_4 = tn_rdbpot(x4, 2);
    const int32_t poly =
        tn_rdbpot(tn_add(tn_srdhm(tn_add(x4_over_4, x3), one_third), x2), 1);
    return tn_add(constant_term, tn_srdhm(constant_term, tn_add(x, poly)));
}

/* exp(a) for a <= 0 given in Q5.26; the result in Q0.31. */
static int32_t tn_exp_negative_q5(int32_t a)
{
    static const int32_t multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int32_t quarter = (int32_t)1 << 24;
    const int32_t a_mod_quarter_minus_quarter = tn_sub(a & (quarter - 1), quarter);
    const int32_t remainder = tn_sub(a_mod_quarter_minus_quarter, a);
    int32_t result = tn_exp_quarter(tn_sat_shl(a_mod_quarter_minus_quarter, 5));
    int k;
    /* Multiply in exp(-2^k) for every bit of the remainder, k = -2 .. 4. */
    for (k = 0; k < 7; ++k) {
        if (remainder & ((int32_t)1 << (24 + k))) {
            result = tn_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps in Q2.29. */
static int32_t tn_one_over_one_plus_x(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = tn_add(1515870810, tn_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t error = tn_sub(one_q2, tn_srdhm(half_denominator, x));
        x = tn_add(x, tn_sat_shl(tn_srdhm(x, error), 2));
    }
    return tn_sat_shl(x, 1);
}

static int tn_clz(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        ++n;
    }
    return n;
}

void tn_softmax_s8(const tn_softmax_params *p, const int8_t *in, int8_t *out)
{
    int32_t i, c;
    for (i = 0; i < p->outer; ++i) {
        int32_t max_val = -128;
        int32_t sum = 0;
        int32_t scale;
        int headroom, bits_over_unit;
        for (c = 0; c < p->depth; ++c) {
            if (in[c] > max_val) {
                max_val = in[c];
            }
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_val;
            if (diff >= p->diff_min) {
                const int32_t scaled = tn_mbqm(diff, p->mult, p->shift);
                /* Accumulate in Q12.19. */
                sum = tn_add(sum, tn_rdbpot(tn_exp_negative_q5(scaled), 12));
            }
        }
        headroom = tn_clz((uint32_t)sum);
        bits_over_unit = 12 - headroom;
        scale = tn_one_over_one_plus_x(
            (int32_t)(((uint32_t)sum << headroom) - ((uint32_t)1 << 31)));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)in[c] - max_val;
            int32_t q = -128;
            if (diff >= p->diff_min) {
                const int32_t scaled = tn_mbqm(diff, p->mult, p->shift);
                const int32_t e = tn_exp_negative_q5(scaled);
                q = tn_clamp(tn_rdbpot(tn_srdhm(scale, e), bits_over_unit + 23) - 128, -128, 127);
            }
            out[c] = (int8_t)q;
        }
        in += p->depth;
        out += p->depth;
    }
}
