/* The fixed-point primitives of gemmlowp and TensorFlow Lite (quantization_util / common.h),
 * bit for bit: the rounding of every kernel depends on them. Internal to the runtime. */
#ifndef TN_FIXEDPOINT_H
#define TN_FIXEDPOINT_H

#include <stdint.h>

/* (a * b * 2) / 2^32 rounded to nearest, ties away from zero, without saturation: exact for
 * every pair but INT32_MIN * INT32_MIN. gemmlowp adds a sign-dependent nudge (2^30 or
 * 1 - 2^30) and truncates toward zero; for a negative product that equals adding 2^30 and
 * flooring, so one add and an arithmetic shift (SMULL, ADDS, ADC and two shifts on a
 * Cortex-M) give the same bits with no branch and no 64-bit division. */
static inline int32_t tn_srdhm_nosat(int32_t a, int32_t b)
{
    /* Arithmetic right shift of a negative value, as every target compiler does it. */
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* (a * b * 2) / 2^32, rounded to nearest, saturating the single overflowing case. */
static inline int32_t tn_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return tn_srdhm_nosat(a, b);
}

/* x / 2^exponent, rounded to nearest with ties away from zero. */
static inline int32_t tn_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    /* x >> 31 is -1 for a negative x: the threshold is one higher there. */
    const int32_t threshold = (mask >> 1) - (x >> 31);
    /* Arithmetic right shift of a negative value, as every target compiler does it. */
    return (x >> exponent) + ((x & mask) > threshold);
}

/* x * multiplier * 2^shift rounded twice (high product, then shift), as TensorFlow Lite's
 * reference kernels do (gemmlowp). The left shift wraps like the reference's int32
 * multiplication would, without undefined behaviour. */
static inline int32_t tn_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return tn_rdbpot(tn_srdhm(shifted, multiplier), right);
}

/* tn_mbqm for a non-negative multiplier, which every per-channel convolution multiplier is
 * (the converter stores them in [2^30, 2^31) or 0): the saturating case cannot occur. */
static inline int32_t tn_mbqm_pos(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return tn_rdbpot(tn_srdhm_nosat(shifted, multiplier), right);
}

/* The variant for multipliers below one (shift <= 0), used by ADD and SUB. */
static inline int32_t tn_mbqm_small(int32_t x, int32_t multiplier, int shift)
{
    return tn_rdbpot(tn_srdhm(x, multiplier), -shift);
}

/* x * multiplier * 2^(shift - 31) rounded half up in one step, as ruy applies multipliers:
 * TensorFlow Lite runs int8 FULLY_CONNECTED through ruy even with its reference resolver. */
static inline int32_t tn_mbqm_single(int32_t x, int32_t multiplier, int shift)
{
    const int total_shift = 31 - shift;
    const int64_t round = (int64_t)1 << (total_shift - 1);
    /* Arithmetic right shift of a negative value, as every target compiler does it. */
    int64_t result = ((int64_t)x * multiplier + round) >> total_shift;
    if (result > INT32_MAX) {
        result = INT32_MAX;
    } else if (result < INT32_MIN) {
        result = INT32_MIN;
    }
    return (int32_t)result;
}

static inline int32_t tn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* TN_FIXEDPOINT_H */
