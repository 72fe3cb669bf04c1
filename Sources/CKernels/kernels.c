// One source, three instruction sets: variant.h, compiled 4 wide for the baseline (SSE2 on x86-64, any CPU
// elsewhere), 8 wide under __attribute__((target("avx2"))) and 16 wide under target("avx512f"), so the rest of
// the program keeps the baseline and the wide code only runs after the CPUID check in ck_active.
#include "CKernels.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Exact agreement between variants (and with the engine's Swift code) needs separate multiply and add.
#pragma clang fp contract(off)

// Cephes' expf as the engine's VectorMath.exp computes it: range reduction by ln 2 in two parts, degree-6
// polynomial, 2^n built in the exponent bits (the 1.5·2²³ shifter leaves n in the low mantissa bits).
#define EXP_LOW (-87.33654f)
#define EXP_HIGH 88.37626f
#define EXP_SHIFTER 12582912.0f
#define EXP_LOG2E 1.4426950408889634f
#define EXP_LN2_HIGH 0.693359375f
#define EXP_LN2_LOW 2.1219444e-4f
#define EXP_P0 1.98756915e-4f
#define EXP_P1 1.3981999507e-3f
#define EXP_P2 8.3334519073e-3f
#define EXP_P3 4.1665795894e-2f
#define EXP_P4 1.6666665459e-1f
#define EXP_P5 5.0000001201e-1f

// The fixed summation order every variant follows: lane j (0..15) sums the values at i ≡ j (mod 16) of the
// whole 16-blocks, the lanes fold in halves (j += j + 8, then + 4, + 2, + 1), then the tail adds in order.
static inline double fold_lanes(double lanes[16], const float *tail, size_t tailCount) {
    for (int width = 8; width >= 1; width /= 2)
        for (int j = 0; j < width; j++) lanes[j] += lanes[j + width];
    double total = lanes[0];
    for (size_t i = 0; i < tailCount; i++) total += (double)tail[i];
    return total;
}

#define VARIANT portable
#define WIDTH 4
#define TARGET
#include "variant.h"
#undef VARIANT
#undef WIDTH
#undef TARGET

#define VARIANT avx2
#define WIDTH 8
#define TARGET __attribute__((target("avx2")))
#include "variant.h"
#undef VARIANT
#undef WIDTH
#undef TARGET

#define VARIANT avx512
#define WIDTH 16
#define TARGET __attribute__((target("avx512f")))
#include "variant.h"
#undef VARIANT
#undef WIDTH
#undef TARGET

// ---- dispatch ----

static const ck_kernels variants[] = {
    {CK_ISA_PORTABLE, "portable", silu_portable, sigmoid_portable, bias_relu_portable, scale_add_portable, sum_portable},
    {CK_ISA_AVX2, "avx2", silu_avx2, sigmoid_avx2, bias_relu_avx2, scale_add_avx2, sum_avx2},
    {CK_ISA_AVX512, "avx512", silu_avx512, sigmoid_avx512, bias_relu_avx512, scale_add_avx512, sum_avx512},
};

static int supported(ck_isa isa) {
    __builtin_cpu_init();
    switch (isa) {
    case CK_ISA_PORTABLE: return 1;
    case CK_ISA_AVX2: return __builtin_cpu_supports("avx2");
    case CK_ISA_AVX512: return __builtin_cpu_supports("avx512f");
    }
    return 0;
}

const ck_kernels *ck_variant(ck_isa isa) {
    if (isa < CK_ISA_PORTABLE || isa > CK_ISA_AVX512 || !supported(isa)) return NULL;
    return &variants[isa];
}

static const ck_kernels *active;

static void choose(void) {
    const char *wanted = getenv("MGMT_KERNELS");
    for (int isa = CK_ISA_AVX512; wanted && isa >= CK_ISA_PORTABLE; isa--) {
        if (strcmp(wanted, variants[isa].name) == 0 && supported((ck_isa)isa)) {
            active = &variants[isa];
            return;
        }
    }
    int isa = CK_ISA_AVX512;
    while (!supported((ck_isa)isa)) isa--;
    active = &variants[isa];
}

const ck_kernels *ck_active(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose);
    return active;
}
