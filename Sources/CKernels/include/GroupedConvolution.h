// Direct 3×3 convolution (padding 1, stride 1 or 2) for the grouped layers of ECA-NFNet: output channels in blocks
// of 32, each block's accumulators held in registers across a strip of up to 7 output positions of one row, the
// input broadcast one value at a time. No im2col: the GEMM form copied every input value nine times and gave
// OpenBLAS 49–196 columns per image, where it runs well below its peak. Compiled per instruction set like
// CKernels.h's table and chosen the same way (ck_active()->isa); the wide variants use fused multiply-add, so
// they differ from the portable one by rounding only.
#ifndef MGMT_GROUPED_CONVOLUTION_H
#define MGMT_GROUPED_CONVOLUTION_H

#include <stddef.h>

#include "CKernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// Output channels per block; a group's output channel count must be a multiple of it.
#define CK_CONV3X3_BLOCK 32

// weight [out][inPerGroup][3][3] → the blocks' layout: block b (output channels 32b … 32b + 31) at
// packed + b · inPerGroup · 9 · 32, as [inPerGroup][3][3][32]. out must be a multiple of 32.
void ck_conv3x3_pack(const float *weight, size_t out, size_t inPerGroup, float *packed);

// One block of 32 output channels of one image: output[j · outputPlaneStride + y · outputWidth + x] =
// Σ_c,ky,kx block[c][ky][kx][j] · padded[c · paddedHeight · paddedWidth + (y·stride + ky) · paddedWidth + x·stride + kx]
// for y < outputHeight, x < outputWidth, where padded holds the group's inPerGroup input planes with a border of
// one zero on every side (paddedHeight ≥ (outputHeight − 1)·stride + 3, likewise the width). No bias.
typedef void (*ck_conv3x3_block_fn)(const float *padded, size_t paddedHeight, size_t paddedWidth, size_t inPerGroup,
                                    const float *block, size_t stride, size_t outputHeight, size_t outputWidth,
                                    float *output, size_t outputPlaneStride);

// The variant for `isa`, or NULL when this CPU cannot run it (tests compare each with the portable one).
ck_conv3x3_block_fn ck_conv3x3_block_variant(ck_isa isa);

// The variant of ck_active()'s instruction set.
ck_conv3x3_block_fn ck_conv3x3_block(void);

#ifdef __cplusplus
}
#endif

#endif
