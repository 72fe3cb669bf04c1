// One source, three instruction sets: the portable functions are plain C (the baseline's SSE2 after
// auto-vectorisation); the AVX2 and AVX-512 ones use intrinsics under __attribute__((target)), so the rest of the
// program keeps the baseline and the wide code only runs after the CPUID check in ck_active.
#include "CKernels.h"

#include <immintrin.h>
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

static inline float exp_portable(float x) {
    float clamped = x < EXP_LOW ? EXP_LOW : (x > EXP_HIGH ? EXP_HIGH : x);
    float shifted = clamped * EXP_LOG2E + EXP_SHIFTER;
    float n = shifted - EXP_SHIFTER;
    float r = clamped - n * EXP_LN2_HIGH + n * EXP_LN2_LOW;
    float p = EXP_P0;
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    p = p * r * r + r + 1.0f;
    int32_t shiftedBits, shifterBits;
    float shifter = EXP_SHIFTER;
    memcpy(&shiftedBits, &shifted, 4);
    memcpy(&shifterBits, &shifter, 4);
    uint32_t scaleBits = (uint32_t)(shiftedBits - shifterBits + 127) << 23;
    float scale;
    memcpy(&scale, &scaleBits, 4);
    return p * scale;
}

static inline float silu_one(float x, float shift, float factor) {
    float v = x + shift;
    return v / (1.0f + exp_portable(-v)) * factor;
}

static inline float sigmoid_one(float x, float shift) { return 1.0f / (1.0f + exp_portable(-(x + shift))); }

static inline float relu_one(float x, float shift) {
    float v = x + shift;
    return v > 0.0f ? v : 0.0f;
}

// ---- portable ----

static void silu_portable(const float *in, float *out, size_t count, float shift, float factor) {
    for (size_t i = 0; i < count; i++) out[i] = silu_one(in[i], shift, factor);
}

static void sigmoid_portable(const float *in, float *out, size_t count, float shift) {
    for (size_t i = 0; i < count; i++) out[i] = sigmoid_one(in[i], shift);
}

static void bias_relu_portable(const float *in, float *out, size_t count, float shift) {
    for (size_t i = 0; i < count; i++) out[i] = relu_one(in[i], shift);
}

static void scale_add_portable(const float *x, float scale, const float *addend, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = x[i] * scale + addend[i];
}

// The fixed summation order every variant follows: lane j (0..15) sums the values at i ≡ j (mod 16) of the
// whole 16-blocks, the lanes fold in halves (j += j + 8, then + 4, + 2, + 1), then the tail adds in order.
static double fold_lanes(double lanes[16], const float *tail, size_t tailCount) {
    for (int width = 8; width >= 1; width /= 2)
        for (int j = 0; j < width; j++) lanes[j] += lanes[j + width];
    double total = lanes[0];
    for (size_t i = 0; i < tailCount; i++) total += (double)tail[i];
    return total;
}

static double sum_portable(const float *values, size_t count) {
    double lanes[16] = {0};
    size_t blocks = count / 16 * 16;
    for (size_t i = 0; i < blocks; i += 16)
        for (int j = 0; j < 16; j++) lanes[j] += (double)values[i + j];
    return fold_lanes(lanes, values + blocks, count - blocks);
}

// ---- AVX2 ----

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 exp_avx2(__m256 x) {
    __m256 low = _mm256_set1_ps(EXP_LOW), high = _mm256_set1_ps(EXP_HIGH), shifter = _mm256_set1_ps(EXP_SHIFTER);
    __m256 clamped = _mm256_blendv_ps(x, low, _mm256_cmp_ps(x, low, _CMP_LT_OQ));
    clamped = _mm256_blendv_ps(clamped, high, _mm256_cmp_ps(x, high, _CMP_GT_OQ));
    __m256 shifted = _mm256_add_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(EXP_LOG2E)), shifter);
    __m256 n = _mm256_sub_ps(shifted, shifter);
    __m256 r = _mm256_add_ps(_mm256_sub_ps(clamped, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_HIGH))),
                             _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_LOW)));
    __m256 p = _mm256_set1_ps(EXP_P0);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(EXP_P1));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(EXP_P2));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(EXP_P3));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(EXP_P4));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(EXP_P5));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    __m256i integer = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(shifter));
    __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(integer, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

AVX2 static void silu_avx2(const float *in, float *out, size_t count, float shift, float factor) {
    __m256 s = _mm256_set1_ps(shift), f = _mm256_set1_ps(factor), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(in + i), s);
        __m256 e = exp_avx2(_mm256_sub_ps(zero, v));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), f));
    }
    silu_portable(in + i, out + i, count - i, shift, factor);
}

AVX2 static void sigmoid_avx2(const float *in, float *out, size_t count, float shift) {
    __m256 s = _mm256_set1_ps(shift), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(in + i), s);
        _mm256_storeu_ps(out + i, _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(zero, v)))));
    }
    sigmoid_portable(in + i, out + i, count - i, shift);
}

AVX2 static void bias_relu_avx2(const float *in, float *out, size_t count, float shift) {
    __m256 s = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(in + i), s);
        // v > 0 ? v : 0, NaN → 0 as in the scalar form.
        _mm256_storeu_ps(out + i, _mm256_and_ps(v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)));
    }
    bias_relu_portable(in + i, out + i, count - i, shift);
}

AVX2 static void scale_add_avx2(const float *x, float scale, const float *addend, float *out, size_t count) {
    __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(addend + i)));
    scale_add_portable(x + i, scale, addend + i, out + i, count - i);
}

AVX2 static double sum_avx2(const float *values, size_t count) {
    // Four registers of four doubles hold lanes 0–3, 4–7, 8–11, 12–15.
    __m256d a = _mm256_setzero_pd(), b = a, c = a, d = a;
    size_t blocks = count / 16 * 16;
    for (size_t i = 0; i < blocks; i += 16) {
        a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(values + i)));
        b = _mm256_add_pd(b, _mm256_cvtps_pd(_mm_loadu_ps(values + i + 4)));
        c = _mm256_add_pd(c, _mm256_cvtps_pd(_mm_loadu_ps(values + i + 8)));
        d = _mm256_add_pd(d, _mm256_cvtps_pd(_mm_loadu_ps(values + i + 12)));
    }
    double lanes[16];
    _mm256_storeu_pd(lanes, a);
    _mm256_storeu_pd(lanes + 4, b);
    _mm256_storeu_pd(lanes + 8, c);
    _mm256_storeu_pd(lanes + 12, d);
    return fold_lanes(lanes, values + blocks, count - blocks);
}

// ---- AVX-512 ----

#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline __m512 exp_avx512(__m512 x) {
    __m512 low = _mm512_set1_ps(EXP_LOW), high = _mm512_set1_ps(EXP_HIGH), shifter = _mm512_set1_ps(EXP_SHIFTER);
    __m512 clamped = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, low, _CMP_LT_OQ), low);
    clamped = _mm512_mask_mov_ps(clamped, _mm512_cmp_ps_mask(x, high, _CMP_GT_OQ), high);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(EXP_LOG2E)), shifter);
    __m512 n = _mm512_sub_ps(shifted, shifter);
    __m512 r = _mm512_add_ps(_mm512_sub_ps(clamped, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_HIGH))),
                             _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_LOW)));
    __m512 p = _mm512_set1_ps(EXP_P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(EXP_P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(EXP_P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(EXP_P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(EXP_P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(EXP_P5));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
    __m512i integer = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(shifter));
    __m512i scale = _mm512_slli_epi32(_mm512_add_epi32(integer, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(scale));
}

AVX512 static void silu_avx512(const float *in, float *out, size_t count, float shift, float factor) {
    __m512 s = _mm512_set1_ps(shift), f = _mm512_set1_ps(factor), one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(in + i), s);
        __m512 e = exp_avx512(_mm512_sub_ps(zero, v));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_div_ps(v, _mm512_add_ps(one, e)), f));
    }
    silu_portable(in + i, out + i, count - i, shift, factor);
}

AVX512 static void sigmoid_avx512(const float *in, float *out, size_t count, float shift) {
    __m512 s = _mm512_set1_ps(shift), one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(in + i), s);
        _mm512_storeu_ps(out + i, _mm512_div_ps(one, _mm512_add_ps(one, exp_avx512(_mm512_sub_ps(zero, v)))));
    }
    sigmoid_portable(in + i, out + i, count - i, shift);
}

AVX512 static void bias_relu_avx512(const float *in, float *out, size_t count, float shift) {
    __m512 s = _mm512_set1_ps(shift), zero = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(in + i), s);
        _mm512_storeu_ps(out + i, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v));
    }
    bias_relu_portable(in + i, out + i, count - i, shift);
}

AVX512 static void scale_add_avx512(const float *x, float scale, const float *addend, float *out, size_t count) {
    __m512 s = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), s), _mm512_loadu_ps(addend + i)));
    scale_add_portable(x + i, scale, addend + i, out + i, count - i);
}

AVX512 static double sum_avx512(const float *values, size_t count) {
    __m512d a = _mm512_setzero_pd(), b = a;  // lanes 0–7 and 8–15
    size_t blocks = count / 16 * 16;
    for (size_t i = 0; i < blocks; i += 16) {
        a = _mm512_add_pd(a, _mm512_cvtps_pd(_mm256_loadu_ps(values + i)));
        b = _mm512_add_pd(b, _mm512_cvtps_pd(_mm256_loadu_ps(values + i + 8)));
    }
    double lanes[16];
    _mm512_storeu_pd(lanes, a);
    _mm512_storeu_pd(lanes + 8, b);
    return fold_lanes(lanes, values + blocks, count - blocks);
}

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
