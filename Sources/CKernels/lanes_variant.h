// A vector of one instruction set, its unaligned load and its partial store: included by winograd_variant.h and
// winograd_gemm_variant.h once per variant, with W(name), WIDTH and TARGET defined.

typedef float W(wfloats) __attribute__((vector_size(WIDTH * 4)));

TARGET static inline W(wfloats) W(load)(const float *pointer) {
    W(wfloats) value;
    memcpy(&value, pointer, sizeof value);
    return value;
}

// The first `lanes` lanes of value: one store, masked when partial (a plane of 14 or 7 tile columns has a partial
// group in every tile row; a band of 4 or 49 tiles ends in one).
TARGET static inline void W(store)(float *pointer, W(wfloats) value, size_t lanes) {
    if (lanes == WIDTH) {
        memcpy(pointer, &value, sizeof value);
        return;
    }
#if WIDTH == 16
    _mm512_mask_storeu_ps(pointer, (__mmask16)((1u << lanes) - 1), (__m512)value);
#elif WIDTH == 8
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(pointer, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)lanes), lane), (__m256)value);
#else
    for (size_t lane = 0; lane < lanes; lane++) pointer[lane] = value[lane];
#endif
}
