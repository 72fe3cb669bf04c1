// A packed single-precision GEMM for convolutions (Conv3d): the weights are packed once, at load, into panels of
// `mr` rows; each row of B is read where the caller says it starts (B is not packed: im2col rows built a tile at a
// time, or, for a stride-1 convolution, the zero-padded input itself, each kernel tap's row a shifted view of it);
// bias and ReLU are applied to the output tile as it is stored.
// Variants per instruction set as in CKernels.h (AVX-512: 8 × 48 tile, AVX2: 6 × 16, portable: 4 × 8); the wide
// ones use fused multiply-add, so their results differ from the portable one's by rounding only.
#ifndef MGMT_CKERNELS_GEMM_H
#define MGMT_CKERNELS_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "CKernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    ck_isa isa;
    const char *name;
    size_t mr;  // rows (output channels) of a micro-tile: A's panel height
    size_t nr;  // columns of a micro-tile
    // C[m × n] (row stride ldc) = (C if accumulate) + packed_a[0..<m, k0..<k0+kc] · B[kc × n], where
    // B[r][j] = b[row_offsets[r] + j]. With finish (the last block of k), then C = activation(C + bias[row]) (bias
    // may be NULL; activation is ReLU when relu, else identity). Each row of B is read up to nr − 1 floats past
    // its n columns (values there are ignored): the caller leaves that much slack.
    void (*multiply)(const float *packed_a, size_t m, size_t k, size_t k0, size_t kc, const float *b,
                     const ptrdiff_t *row_offsets, size_t n, float *c, size_t ldc, int accumulate, int finish,
                     const float *bias, int relu);
} ck_gemm;

// The variant for ck_active()'s instruction set.
const ck_gemm *ck_gemm_active(void);

// A given variant, or NULL when this CPU cannot run it.
const ck_gemm *ck_gemm_variant(ck_isa isa);

// Floats of A [m × k] packed for `gemm`: m rounded up to a multiple of mr, times k.
size_t ck_gemm_packed_count(const ck_gemm *gemm, size_t m, size_t k);

// Packs row-major A [m × k] for `gemm`: panel p holds rows p·mr ..< p·mr + mr as [k][mr], rows past m zero.
void ck_gemm_pack_a(const ck_gemm *gemm, const float *a, size_t m, size_t k, float *packed);

#ifdef __cplusplus
}
#endif

#endif
