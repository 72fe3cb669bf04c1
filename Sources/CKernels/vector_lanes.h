// Lane tools of the Winograd variants (winograd_variant.h, winograd_gemm_variant.h, winograd3d_variant.h), included
// inside a variant after
// it defines WIDTH, TARGET, W(name) and LANES (its vector type of WIDTH floats): W(load), W(store) of the first
// lanes, and the shuffle index lists for WIDTH: EVENS/ODDS split two vectors' lanes, SHIFT1 moves a vector one lane
// down taking the next vector's first lane, ZIP_LO/ZIP_HI interleave two vectors lane by lane (low and high
// halves), PAIRS_LO/PAIRS_HI pair by pair. The variant ends by including vector_lanes_end.h, which undefines them.

#if WIDTH == 4
#define EVENS 0, 2, 4, 6
#define ODDS 1, 3, 5, 7
#define SHIFT1 1, 2, 3, 4
#define ZIP_LO 0, 4, 1, 5
#define ZIP_HI 2, 6, 3, 7
#define PAIRS_LO 0, 1, 4, 5
#define PAIRS_HI 2, 3, 6, 7
#elif WIDTH == 8
#define EVENS 0, 2, 4, 6, 8, 10, 12, 14
#define ODDS 1, 3, 5, 7, 9, 11, 13, 15
#define SHIFT1 1, 2, 3, 4, 5, 6, 7, 8
#define ZIP_LO 0, 8, 1, 9, 2, 10, 3, 11
#define ZIP_HI 4, 12, 5, 13, 6, 14, 7, 15
#define PAIRS_LO 0, 1, 8, 9, 2, 3, 10, 11
#define PAIRS_HI 4, 5, 12, 13, 6, 7, 14, 15
#elif WIDTH == 16
#define EVENS 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define ODDS 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define SHIFT1 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
#define ZIP_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define ZIP_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#define PAIRS_LO 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23
#define PAIRS_HI 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31
#endif

TARGET static inline LANES W(load)(const float *pointer) {
    LANES value;
    memcpy(&value, pointer, sizeof value);
    return value;
}

// The first `lanes` lanes of value: one store, masked when partial (rows of tiles rarely fill whole vectors); the
// other floats at pointer are not touched.
TARGET static inline void W(store)(float *pointer, LANES value, size_t lanes) {
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
