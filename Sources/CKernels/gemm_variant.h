// The packed GEMM of one instruction set, written once on Clang's vector extension: gemm.c includes this file
// once per variant with VARIANT (name suffix), WIDTH (floats per vector), MR (tile rows), NV (vectors per tile
// row, so nr = NV · WIDTH) and TARGET (function attributes). The MR × NV accumulators stay in registers.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define V(name) JOIN(name, VARIANT)
#define NR (NV * WIDTH)

typedef float V(gemm_floats) __attribute__((vector_size(WIDTH * 4), aligned(4)));

// One mr × nr tile of C from A's panel (at k0, [kc][MR]) and B's strip (row r at b + offsets[r], at least nr
// readable floats); rows × cols of it are stored.
TARGET static inline void V(tile)(const float *a, const float *b, const ptrdiff_t *offsets, size_t kc, float *c, size_t ldc,
                                  size_t rows, size_t cols, int accumulate, int finish, const float *bias, int relu) {
    V(gemm_floats) sum[MR][NV];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < NV; v++) sum[r][v] = (V(gemm_floats)){0};
    for (size_t k = 0; k < kc; k++) {
        V(gemm_floats) row[NV];
#pragma clang loop unroll(full)
        for (int v = 0; v < NV; v++) row[v] = *(const V(gemm_floats) *)(b + offsets[k] + v * WIDTH);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const float weight = a[k * MR + r];
#pragma clang loop unroll(full)
            for (int v = 0; v < NV; v++) sum[r][v] += row[v] * weight;
        }
    }
    if (rows == MR && cols == NR) {
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            const float shift = finish && bias ? bias[r] : 0.0f;
#pragma clang loop unroll(full)
            for (int v = 0; v < NV; v++) {
                V(gemm_floats) *out = (V(gemm_floats) *)(c + r * ldc + v * WIDTH);
                V(gemm_floats) x = sum[r][v];
                if (accumulate) x = *out + x;
                if (finish) {
                    x = x + shift;
                    if (relu) x = __builtin_elementwise_max(x, (V(gemm_floats)){0});
                }
                *out = x;
            }
        }
        return;
    }
    float partial[MR][NR];
    memcpy(partial, sum, sizeof partial);
    for (size_t r = 0; r < rows; r++) {
        const float shift = finish && bias ? bias[r] : 0.0f;
        for (size_t j = 0; j < cols; j++) {
            float x = partial[r][j];
            if (accumulate) x = c[r * ldc + j] + x;
            if (finish) {
                x = x + shift;
                if (relu) x = x > 0.0f ? x : 0.0f;
            }
            c[r * ldc + j] = x;
        }
    }
}

// Strip by strip of nr columns (B's strip stays in L1 while every panel of A passes over it), panel by panel.
TARGET static void V(multiply)(const float *packed_a, size_t m, size_t k, size_t k0, size_t kc, const float *b,
                               const ptrdiff_t *row_offsets, size_t n, float *c, size_t ldc, int accumulate, int finish,
                               const float *bias, int relu) {
    const size_t panels = (m + MR - 1) / MR;
    for (size_t j = 0; j < n; j += NR) {
        const size_t cols = n - j < NR ? n - j : NR;
        for (size_t p = 0; p < panels; p++) {
            const size_t rows = m - p * MR < MR ? m - p * MR : MR;
            V(tile)(packed_a + p * MR * k + k0 * MR, b + j, row_offsets, kc, c + p * MR * ldc + j, ldc, rows, cols, accumulate,
                    finish, bias ? bias + p * MR : NULL, relu);
        }
    }
}

#undef NR
#undef V
#undef JOIN
#undef JOIN2
