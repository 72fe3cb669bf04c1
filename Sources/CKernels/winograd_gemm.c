// The Winograd element products of CWinogradGEMM.h, one source for three instruction sets
// (winograd_gemm_variant.h), chosen like CKernels.h's table (ck_active()->isa, so MGMT_KERNELS applies).
#include "CWinogradGEMM.h"

#include <immintrin.h>
#include <string.h>

// Multiply-add fused where the target has FMA (the point of the wide variants); the portable one rounds twice.
#pragma clang fp contract(fast)

#define VARIANT portable
#define WIDTH 4
#define MR 4
#define NV 2
#define TARGET
#include "winograd_gemm_variant.h"

#define VARIANT avx2
#define WIDTH 8
#define MR 4
#define NV 3
#define TARGET __attribute__((target("avx2,fma")))
#include "winograd_gemm_variant.h"

#define VARIANT avx512
#define WIDTH 16
#define MR 8
#define NV 3
#define TARGET __attribute__((target("avx512f,avx512vl,fma")))
#include "winograd_gemm_variant.h"

ck_winograd_gemm_fn ck_winograd_gemm_variant(ck_isa isa) {
    if (!ck_variant(isa)) return NULL;
    switch (isa) {
    case CK_ISA_PORTABLE: return winograd_gemm_portable;
    case CK_ISA_AVX2: return winograd_gemm_avx2;
    case CK_ISA_AVX512: return winograd_gemm_avx512;
    }
    return NULL;
}

ck_winograd_gemm_fn ck_winograd_gemm(void) { return ck_winograd_gemm_variant(ck_active()->isa); }
