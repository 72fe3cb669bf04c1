// The packed GEMM (CKernelsGEMM.h), gemm_variant.h compiled once per instruction set like kernels.c's variants.
#include "CKernelsGEMM.h"

#include <string.h>

// The wide variants' multiply-adds fuse (their targets include FMA); the portable one's cannot.
#pragma clang fp contract(fast)

#define VARIANT portable
#define WIDTH 4
#define MR 4
#define NV 2
#define TARGET
#include "gemm_variant.h"
#undef VARIANT
#undef WIDTH
#undef MR
#undef NV
#undef TARGET

#define VARIANT avx2
#define WIDTH 8
#define MR 6
#define NV 2
#define TARGET __attribute__((target("avx2,fma")))
#include "gemm_variant.h"
#undef VARIANT
#undef WIDTH
#undef MR
#undef NV
#undef TARGET

#define VARIANT avx512
#define WIDTH 16
#define MR 8
#define NV 3
#define TARGET __attribute__((target("avx512f,avx512vl,fma")))
#include "gemm_variant.h"
#undef VARIANT
#undef WIDTH
#undef MR
#undef NV
#undef TARGET

static const ck_gemm variants[] = {
    {CK_ISA_PORTABLE, "portable", 4, 8, multiply_portable},
    {CK_ISA_AVX2, "avx2", 6, 16, multiply_avx2},
    {CK_ISA_AVX512, "avx512", 8, 48, multiply_avx512},
};

const ck_gemm *ck_gemm_variant(ck_isa isa) {
    return ck_variant(isa) ? &variants[isa] : NULL;
}

const ck_gemm *ck_gemm_active(void) {
    return &variants[ck_active()->isa];
}

size_t ck_gemm_packed_count(const ck_gemm *gemm, size_t m, size_t k) {
    return (m + gemm->mr - 1) / gemm->mr * gemm->mr * k;
}

void ck_gemm_pack_a(const ck_gemm *gemm, const float *a, size_t m, size_t k, float *packed) {
    const size_t mr = gemm->mr, panels = (m + mr - 1) / mr;
    for (size_t p = 0; p < panels; p++)
        for (size_t kk = 0; kk < k; kk++)
            for (size_t r = 0; r < mr; r++) {
                const size_t row = p * mr + r;
                packed[(p * k + kk) * mr + r] = row < m ? a[row * k + kk] : 0.0f;
            }
}
