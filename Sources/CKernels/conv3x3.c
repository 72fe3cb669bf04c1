// The direct 3×3 block kernel of GroupedConvolution.h, one source for three instruction sets (conv3x3_variant.h):
// AVX-512 keeps two 16-wide vectors of output channels × 7 positions in registers, AVX2 and the portable build
// one vector × 7 positions (sweeping the 32 channels in 4 or 8 sub-blocks). Strips of 7 measured faster than 10
// or 14 (fewer live registers; 14 × 2 vectors ran at 55–85 GFLOP/s, 7 × 2 at 95–110, under load).
#include "GroupedConvolution.h"

#include <string.h>

// Multiply-add fused where the target has FMA (the point of the wide variants); the portable one rounds twice.
#pragma clang fp contract(fast)

void ck_conv3x3_pack(const float *weight, size_t out, size_t inPerGroup, float *packed) {
    for (size_t o = 0; o < out; o++) {
        float *block = packed + (o / CK_CONV3X3_BLOCK) * inPerGroup * 9 * CK_CONV3X3_BLOCK;
        for (size_t c = 0; c < inPerGroup; c++)
            for (size_t t = 0; t < 9; t++)
                block[(c * 9 + t) * CK_CONV3X3_BLOCK + o % CK_CONV3X3_BLOCK] = weight[(o * inPerGroup + c) * 9 + t];
    }
}

#define VARIANT portable
#define WIDTH 4
#define VECTORS 1
#define TARGET
#include "conv3x3_variant.h"
#undef VARIANT
#undef WIDTH
#undef VECTORS
#undef TARGET

#define VARIANT avx2
#define WIDTH 8
#define VECTORS 1
#define TARGET __attribute__((target("avx2,fma")))
#include "conv3x3_variant.h"
#undef VARIANT
#undef WIDTH
#undef VECTORS
#undef TARGET

#define VARIANT avx512
#define WIDTH 16
#define VECTORS 2
#define TARGET __attribute__((target("avx512f,avx512vl,fma")))
#include "conv3x3_variant.h"
#undef VARIANT
#undef WIDTH
#undef VECTORS
#undef TARGET

ck_conv3x3_block_fn ck_conv3x3_block_variant(ck_isa isa) {
    if (!ck_variant(isa)) return NULL;
    switch (isa) {
    case CK_ISA_PORTABLE: return conv3x3_block_portable;
    case CK_ISA_AVX2: return conv3x3_block_avx2;
    case CK_ISA_AVX512: return conv3x3_block_avx512;
    }
    return NULL;
}

ck_conv3x3_block_fn ck_conv3x3_block(void) { return ck_conv3x3_block_variant(ck_active()->isa); }
