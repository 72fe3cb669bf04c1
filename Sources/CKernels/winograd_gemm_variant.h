// The Winograd element products of one instruction set on Clang's vector extension: winograd_gemm.c includes this
// file once per variant with VARIANT (name suffix), WIDTH (floats per vector), MR (output channels per register
// tile), NV (most vectors of tiles per register tile) and TARGET; it undefines them.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define W(name) JOIN(name, VARIANT)

typedef float W(wfloats) __attribute__((vector_size(WIDTH * 4)));
#define LANES W(wfloats)
#include "vector_lanes.h"

// MR rows × `vectors` vectors of c (the last one `cols − (vectors − 1) · WIDTH` lanes wide); `vectors` is a constant
// at every call, so the accumulators stay in registers.
TARGET static inline __attribute__((always_inline)) void W(tile)(const float *u, size_t m, size_t k, const float *v,
                                                                size_t ldv, float *c, size_t ldc, size_t cols,
                                                                const int vectors) {
    W(wfloats) sum[MR][NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++) sum[r][j] = (W(wfloats)){0};
    for (size_t kk = 0; kk < k; kk++) {
        W(wfloats) row[NV];
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++)
            if (j < vectors) row[j] = W(load)(v + kk * ldv + j * WIDTH);
        const float *weights = u + kk * m;
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const float weight = weights[r];
#pragma clang loop unroll(full)
            for (int j = 0; j < NV; j++)
                if (j < vectors) sum[r][j] += row[j] * weight;
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
        for (int j = 0; j < NV; j++)
            if (j < vectors) {
                size_t lanes = cols - (size_t)j * WIDTH < WIDTH ? cols - (size_t)j * WIDTH : WIDTH;
                W(store)(c + r * ldc + j * WIDTH, sum[r][j], lanes);
            }
}

// Strip by strip of up to NV vectors of tiles (v's strip, k × strip, stays in L1 while every row panel of u
// passes over it).
TARGET static void W(winograd_gemm)(const float *u, size_t m, size_t k, const float *v, size_t ldv, size_t n, float *c,
                                    size_t ldc) {
    for (size_t j = 0; j < n; j += NV * WIDTH) {
        const size_t cols = n - j < NV * WIDTH ? n - j : NV * WIDTH;
        const int vectors = (int)((cols + WIDTH - 1) / WIDTH);
        for (size_t r = 0; r < m; r += MR) {
            const float *panel = u + r;
            float *out = c + r * ldc + j;
            switch (vectors) {
            case 1: W(tile)(panel, m, k, v + j, ldv, out, ldc, cols, 1); break;
#if NV >= 2
            case 2: W(tile)(panel, m, k, v + j, ldv, out, ldc, cols, 2); break;
#endif
#if NV >= 3
            case 3: W(tile)(panel, m, k, v + j, ldv, out, ldc, cols, 3); break;
#endif
            }
        }
    }
}

#undef MR
#undef NV
#include "vector_lanes_end.h"
