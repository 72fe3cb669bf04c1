// One instruction set's 3×3 block kernel: conv3x3.c includes this file with VARIANT (name suffix), WIDTH (floats
// per vector), VECTORS (vectors of output channels held per position) and TARGET (function attributes).

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define V(name) JOIN(name, VARIANT)

typedef float V(conv_floats) __attribute__((vector_size(WIDTH * 4), aligned(4)));

// A strip of P output positions along one row at stride S: tile[p · 32 + j] for the 32 channels j of the block.
// `in` points at the strip's first window (padded row y·S, column x·S of input plane 0). The loops over p and
// the vectors have constant bounds, so the compiler unrolls them and keeps the accumulators in registers.
#define STRIP(P, S)                                                                                              \
    TARGET static void V(strip_##P##_##S)(const float *in, size_t plane, size_t paddedWidth, size_t inPerGroup,  \
                                          const float *block, float *tile) {                                     \
        for (size_t sub = 0; sub < CK_CONV3X3_BLOCK; sub += VECTORS * WIDTH) {                                  \
            V(conv_floats) acc[VECTORS][P];                                                                      \
            for (int v = 0; v < VECTORS; v++)                                                                    \
                for (int p = 0; p < P; p++) acc[v][p] = (V(conv_floats)){0};                                     \
            const float *channel = in, *weights = block + sub;                                                   \
            for (size_t c = 0; c < inPerGroup; c++, channel += plane, weights += 9 * CK_CONV3X3_BLOCK) {        \
                for (int ky = 0; ky < 3; ky++) {                                                                 \
                    for (int kx = 0; kx < 3; kx++) {                                                             \
                        const float *row = channel + ky * paddedWidth + kx;                                      \
                        const float *w = weights + (ky * 3 + kx) * CK_CONV3X3_BLOCK;                             \
                        V(conv_floats) wv[VECTORS];                                                              \
                        for (int v = 0; v < VECTORS; v++) memcpy(&wv[v], w + v * WIDTH, sizeof wv[v]);           \
                        for (int p = 0; p < P; p++) {                                                            \
                            const float x = row[p * S];                                                          \
                            for (int v = 0; v < VECTORS; v++) acc[v][p] += wv[v] * x;                            \
                        }                                                                                        \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
            for (int p = 0; p < P; p++)                                                                          \
                for (int v = 0; v < VECTORS; v++)                                                                \
                    memcpy(tile + p * CK_CONV3X3_BLOCK + sub + v * WIDTH, &acc[v][p], sizeof acc[v][p]);        \
        }                                                                                                        \
    }

STRIP(7, 1)
STRIP(4, 1)
STRIP(1, 1)
STRIP(7, 2)
STRIP(4, 2)
STRIP(1, 2)
#undef STRIP

TARGET static void V(conv3x3_block)(const float *padded, size_t paddedHeight, size_t paddedWidth, size_t inPerGroup,
                                    const float *block, size_t stride, size_t outputHeight, size_t outputWidth,
                                    float *output, size_t outputPlaneStride) {
    const size_t plane = paddedHeight * paddedWidth;
    float tile[7 * CK_CONV3X3_BLOCK];
    for (size_t y = 0; y < outputHeight; y++) {
        for (size_t x = 0; x < outputWidth;) {
            const size_t left = outputWidth - x;
            const size_t positions = left >= 7 ? 7 : left >= 4 ? 4 : 1;
            const float *in = padded + y * stride * paddedWidth + x * stride;
            if (stride == 1) {
                switch (positions) {
                case 7: V(strip_7_1)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                case 4: V(strip_4_1)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                default: V(strip_1_1)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                }
            } else {
                switch (positions) {
                case 7: V(strip_7_2)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                case 4: V(strip_4_2)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                default: V(strip_1_2)(in, plane, paddedWidth, inPerGroup, block, tile); break;
                }
            }
            float *target = output + y * outputWidth + x;
            for (size_t j = 0; j < CK_CONV3X3_BLOCK; j++)
                for (size_t p = 0; p < positions; p++) target[j * outputPlaneStride + p] = tile[p * CK_CONV3X3_BLOCK + j];
            x += positions;
        }
    }
}

#undef V
#undef JOIN
#undef JOIN2
