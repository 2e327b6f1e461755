/* int8 kernels of the tinynas runtime: the arithmetic of TensorFlow Lite's reference kernels,
 * written in C99 with no dynamic allocation, no stdio and no dependency beyond <stdint.h> and
 * <string.h>, so one model's generated code builds for a host and for a Cortex-M alike.
 *
 * Tensors are NHWC, weights OHWI (depthwise: 1HW(C*M)), as in a .tflite file. Every kernel
 * reads its inputs and writes a separate output (never in place). */
#ifndef TINYNAS_KERNELS_H
#define TINYNAS_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D and DEPTHWISE_CONV_2D (per-channel quantization). */
typedef struct {
    int16_t in_h, in_w, in_c;
    int16_t out_h, out_w, out_c;
    int16_t k_h, k_w;
    int16_t stride_h, stride_w;
    int16_t dil_h, dil_w;
    int16_t pad_h, pad_w;
    int16_t depth_mult;   /* depthwise only */
    int16_t in_offset;    /* minus the input zero point */
    int16_t out_offset;   /* the output zero point */
    int16_t act_min, act_max;
} tn_conv_params;

void tn_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                  const int32_t *bias, const int32_t *mult, const int8_t *shift, int8_t *out);
void tn_depthwise_conv2d_s8(const tn_conv_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            int8_t *out);

/* FULLY_CONNECTED: per-tensor (one multiplier) or per-channel (one per unit). */
typedef struct {
    int32_t batches, depth, units;
    int16_t in_offset, w_offset, out_offset;
    int16_t act_min, act_max;
    int16_t per_channel;
} tn_fc_params;

void tn_fully_connected_s8(const tn_fc_params *p, const int8_t *in, const int8_t *w,
                           const int32_t *bias, const int32_t *mult, const int8_t *shift,
                           int8_t *out);

/* AVERAGE_POOL_2D and MAX_POOL_2D. */
typedef struct {
    int16_t in_h, in_w, channels;
    int16_t out_h, out_w;
    int16_t k_h, k_w;
    int16_t stride_h, stride_w;
    int16_t pad_h, pad_w;
    int16_t act_min, act_max;
} tn_pool_params;

void tn_avg_pool_s8(const tn_pool_params *p, const int8_t *in, int8_t *out);
void tn_max_pool_s8(const tn_pool_params *p, const int8_t *in, int8_t *out);

/* MEAN over one contiguous run of axes: the input seen as [outer, reduce, inner], the output
 * as [outer, inner]. The multiplier folds input scale / output scale and 1 / reduce together, as
 * TensorFlow Lite's QuantizedMeanOrSum does. */
typedef struct {
    int32_t outer, reduce, inner;
    int16_t in_zp, out_zp;
    int32_t mult;
    int16_t shift;
} tn_mean_params;

void tn_mean_s8(const tn_mean_params *p, const int8_t *in, int8_t *out);

/* REDUCE_MAX over the same [outer, reduce, inner] view (input and output quantized alike). */
void tn_reduce_max_s8(const tn_mean_params *p, const int8_t *in, int8_t *out);

/* ADD, SUB (input 2 multiplier negated) and MUL, broadcasting over up to 4 dimensions:
 * a stride of 0 repeats an input along that dimension. */
typedef struct {
    int32_t dims[4];
    int32_t stride1[4], stride2[4];
    int32_t in1_offset, in2_offset, out_offset;
    int32_t mult1, mult2, out_mult;    /* ADD/SUB use all three, MUL only out_mult */
    int8_t shift1, shift2, out_shift, left_shift;
    int16_t act_min, act_max;
} tn_binary_params;

void tn_add_s8(const tn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void tn_mul_s8(const tn_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* QUANTIZE from int8 to int8 (a change of scale and zero point). */
typedef struct {
    int32_t size;
    int16_t in_zp, out_zp;
    int32_t mult;
    int16_t shift;
} tn_requantize_params;

void tn_requantize_s8(const tn_requantize_params *p, const int8_t *in, int8_t *out);

/* LOGISTIC and TANH: TensorFlow Lite builds a 256-entry table per operator; so do we, at
 * generation time. The table is indexed by the input byte as unsigned. */
void tn_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t size);

/* SOFTMAX with TensorFlow Lite's int8 output quantization (scale 1/256, zero point -128):
 * input differences are rescaled by beta * input scale into Q5.26 by `mult` and `shift`, and
 * differences below `diff_min` contribute nothing. */
typedef struct {
    int32_t outer, depth;
    int32_t mult;
    int16_t shift;
    int32_t diff_min;
} tn_softmax_params;

void tn_softmax_s8(const tn_softmax_params *p, const int8_t *in, int8_t *out);

/* Data movement (RESHAPE, SPLIT, SPLIT_V, UNPACK, PACK, CONCATENATION, STRIDED_SLICE, ...):
 * copy `count` blocks of `block` bytes, the i-th from in + i * in_stride to
 * out + i * out_stride. */
void tn_copy_blocks(const int8_t *in, int8_t *out, int32_t count, int32_t block,
                    int32_t in_stride, int32_t out_stride);

#ifdef __cplusplus
}
#endif

#endif /* TINYNAS_KERNELS_H */
