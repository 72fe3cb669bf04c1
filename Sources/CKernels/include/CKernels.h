// Element-wise kernels of the inference engine, compiled once per instruction set (AVX-512, AVX2, portable) and
// chosen once, on CPUID, when first used. Swift compiles for baseline x86-64 (4-wide SSE); these run 16 or 8 wide.
// Every variant computes exactly what the portable one does (same operations in the same order, no fused
// multiply-add), so a model's output does not depend on the machine it runs on.
#ifndef MGMT_CKERNELS_H
#define MGMT_CKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CK_ISA_PORTABLE = 0,
    CK_ISA_AVX2 = 1,     // AVX2 (8 floats per instruction)
    CK_ISA_AVX512 = 2,   // AVX-512F (16 floats)
} ck_isa;

typedef struct {
    ck_isa isa;
    const char *name;
    // out[i] = SiLU(in[i] + shift) · factor, SiLU(v) = v / (1 + exp(−v)); in may equal out.
    void (*silu)(const float *in, float *out, size_t count, float shift, float factor);
    // out[i] = sigmoid(in[i] + shift) = 1 / (1 + exp(−(in[i] + shift))); in may equal out.
    void (*sigmoid)(const float *in, float *out, size_t count, float shift);
    // out[i] = max(in[i] + shift, 0); in may equal out.
    void (*bias_relu)(const float *in, float *out, size_t count, float shift);
    // out[i] = x[i] · scale + addend[i] (a gated residual: ECA gate times branch plus shortcut); out may alias x.
    void (*scale_add)(const float *x, float scale, const float *addend, float *out, size_t count);
    // Σ values[i] in double (a pooled mean's numerator), summed in 16 interleaved partial sums.
    double (*sum)(const float *values, size_t count);
} ck_kernels;

// The variant for this CPU: the widest it supports, or the one MGMT_KERNELS (portable, avx2, avx512) names if
// the CPU supports that. Chosen on the first call; later calls return the same table.
const ck_kernels *ck_active(void);

// A given variant, or NULL when this CPU cannot run it (for tests that compare every variant to the portable one).
const ck_kernels *ck_variant(ck_isa isa);

// CKernels.h is the module's umbrella header: the other kernels' headers are exported through it (after ck_isa).
#include "GroupedConvolution.h"
#include "CKernelsGEMM.h"
#include "CWinograd.h"
#include "CWinogradGEMM.h"
#include "CWinograd3D.h"

#ifdef __cplusplus
}
#endif

#endif
