// The packed GEMM of one instruction set, written once on Clang's vector extension: gemm.c includes this file
// once per variant with VARIANT (name suffix), WIDTH (floats per vector), MR (tile rows), NV (vectors per tile
// row, so nr = NV · WIDTH) and TARGET (function attributes). The MR × NV accumulators stay in registers.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define V(name) JOIN(name, VARIANT)
#define NR (NV * WIDTH)

typedef float V(gemm_floats) __attribute__((vector_size(WIDTH * 4), aligned(4)));

// Stores rows × cols of a tile's sums one float at a time (a tile cut by C's edge), value (r, j) at
// sums[r · row_stride + j · column_stride]: (+ C if accumulate), then with finish + bias[r] and ReLU if relu.
TARGET static inline void V(store_edge)(const float *sums, size_t row_stride, size_t column_stride, float *c, size_t ldc,
                                        size_t rows, size_t cols, int accumulate, int finish, const float *bias, int relu) {
    for (size_t r = 0; r < rows; r++) {
        const float shift = finish && bias ? bias[r] : 0.0f;
        for (size_t j = 0; j < cols; j++) {
            float x = sums[r * row_stride + j * column_stride];
            if (accumulate) x = c[r * ldc + j] + x;
            if (finish) {
                x = x + shift;
                if (relu) x = x > 0.0f ? x : 0.0f;
            }
            c[r * ldc + j] = x;
        }
    }
}

// One mr × (nv · LANES) tile of C, in vectors VT of LANES floats, from A's panel (at k0, [kc][MR]) and B's strip
// (row r at b + offsets[r], at least nv · LANES readable floats); rows × cols of it are stored. Inlined with nv a
// constant: one function per strip width (the full one, NV vectors of WIDTH; narrower ones for a last strip that
// needs fewer vectors, down to one of half width).
// While it runs, it prefetches what the next tile reads first: the next panel's same k range (next_a), and, for a
// strip's first panel, the next strip's rows of B (next_b, or NULL). Weights of the 14² and 7² layers come cold from
// memory (a whole 1536 × 384 layer passes before they are read again) and B's rows lie a plane apart, which the
// hardware prefetchers do not follow; a batch-1 ECA-NFNet's 1×1s measured 8 % faster with both.
#define TILE(NAME, VT, LANES)                                                                                                  \
    TARGET static inline __attribute__((always_inline)) void V(NAME)(                                                          \
        const float *a, const float *b, const ptrdiff_t *offsets, size_t kc, float *c, size_t ldc, size_t rows, size_t cols,   \
        int accumulate, int finish, const float *bias, int relu, const int nv, const float *next_a, const float *next_b) {        \
        VT sum[MR][NV];                                                                                                        \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                                                        \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) sum[r][v] = (VT){0};                               \
        for (size_t k = 0; k < kc; k++) {                                                                                      \
            __builtin_prefetch(next_a + k * MR, 0, 3);                                                                         \
            if (next_b)                                                                                                        \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) __builtin_prefetch(next_b + offsets[k] + v * WIDTH, 0, 3); \
            VT row[NV];                                                                                                        \
            _Pragma("clang loop unroll(full)") for (int v = 0; v < nv; v++) row[v] = *(const VT *)(b + offsets[k] + v * LANES); \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                                                  \
                const float weight = a[k * MR + r];                                                                            \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < nv; v++) sum[r][v] += row[v] * weight;                  \
            }                                                                                                                  \
        }                                                                                                                      \
        if (rows == MR && cols == (size_t)nv * LANES) {                                                                        \
            _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                                                  \
                const float shift = finish && bias ? bias[r] : 0.0f;                                                           \
                _Pragma("clang loop unroll(full)") for (int v = 0; v < nv; v++) {                                              \
                    VT *out = (VT *)(c + r * ldc + v * LANES);                                                                 \
                    VT x = sum[r][v];                                                                                          \
                    if (accumulate) x = *out + x;                                                                              \
                    if (finish) {                                                                                              \
                        x = x + shift;                                                                                         \
                        if (relu) x = __builtin_elementwise_max(x, (VT){0});                                                   \
                    }                                                                                                          \
                    *out = x;                                                                                                  \
                }                                                                                                              \
            }                                                                                                                  \
            return;                                                                                                            \
        }                                                                                                                      \
        float partial[MR][NV * LANES];                                                                                         \
        memcpy(partial, sum, sizeof partial);                                                                                  \
        V(store_edge)(&partial[0][0], NV * LANES, 1, c, ldc, rows, cols, accumulate, finish, bias, relu);                      \
    }
typedef float V(gemm_half) __attribute__((vector_size(WIDTH * 2), aligned(4)));
TILE(tile, V(gemm_floats), WIDTH)
TILE(tile_half, V(gemm_half), WIDTH / 2)
#undef TILE

#if MR == 4 || MR == 8
typedef float V(gemm_panel_row) __attribute__((vector_size(MR * 4), aligned(4)));
// A last strip narrower than MR columns (n = 49 leaves 1, n = 196 leaves 4): each column's MR outputs in one vector
// over the panel's rows, B's value broadcast, where a strip's vectors would be mostly idle lanes (one column cost
// a sixth of a 48-column strip). Each output gets the same multiply-adds in the same order: the same bits.
TARGET static inline __attribute__((always_inline)) void V(tile_columns)(
    const float *a, const float *b, const ptrdiff_t *offsets, size_t kc, float *c, size_t ldc, size_t rows, size_t cols,
    int accumulate, int finish, const float *bias, int relu, const int nv, const float *next_a, const float *next_b) {
    (void)nv;
    (void)next_b;
    V(gemm_panel_row) sum[MR - 1];
    _Pragma("clang loop unroll(full)") for (int j = 0; j < MR - 1; j++) sum[j] = (V(gemm_panel_row)){0};
    for (size_t k = 0; k < kc; k++) {
        __builtin_prefetch(next_a + k * MR, 0, 3);
        const V(gemm_panel_row) weights = *(const V(gemm_panel_row) *)(a + k * MR);
        const float *row = b + offsets[k];
        _Pragma("clang loop unroll(full)") for (int j = 0; j < MR - 1; j++) if ((size_t)j < cols) sum[j] += weights * row[j];
    }
    float partial[MR - 1][MR];
    memcpy(partial, sum, sizeof partial);
    V(store_edge)(&partial[0][0], 1, MR, c, ldc, rows, cols, accumulate, finish, bias, relu);
}
#endif

// The strips of nv vectors: panel by panel of A over B's strip (which stays in L1 while every panel passes over it).
#define STRIP(NAME, TILE, nv)                                                                                              \
    TARGET static void V(NAME)(const float *packed_a, size_t m, size_t k, size_t k0, size_t kc, const float *b,      \
                                     const ptrdiff_t *row_offsets, size_t cols, float *c, size_t ldc, int accumulate,      \
                                     int finish, const float *bias, int relu, const float *next_b) {                       \
        const size_t panels = (m + MR - 1) / MR;                                                                           \
        for (size_t p = 0; p < panels; p++) {                                                                              \
            const size_t rows = m - p * MR < MR ? m - p * MR : MR;                                                         \
            const float *panel = packed_a + p * MR * k + k0 * MR;                                                          \
            V(TILE)(panel, b, row_offsets, kc, c + p * MR * ldc, ldc, rows, cols, accumulate, finish,                      \
                    bias ? bias + p * MR : NULL, relu, nv, p + 1 < panels ? panel + MR * k : panel, p == 0 ? next_b : NULL); \
        }                                                                                                                  \
    }
STRIP(strip_half, tile_half, 1)
STRIP(strip_1, tile, 1)
STRIP(strip_2, tile, 2)
#if NV > 2
STRIP(strip_3, tile, 3)
#endif
#if MR == 4 || MR == 8
STRIP(strip_columns, tile_columns, 0)
#endif
#undef STRIP

// Strip by strip of nr columns; the last one, when narrower, as a strip of only the vectors it needs (half a
// vector's width or less: one vector of half width), or, narrower than a panel's rows, column by column.
TARGET static void V(multiply)(const float *packed_a, size_t m, size_t k, size_t k0, size_t kc, const float *b,
                               const ptrdiff_t *row_offsets, size_t n, float *c, size_t ldc, int accumulate, int finish,
                               const float *bias, int relu) {
    for (size_t j = 0; j < n; j += NR) {
        const size_t cols = n - j < NR ? n - j : NR;
        const float *next_b = j + NR < n ? b + j + NR : NULL;
#if MR == 4 || MR == 8
        if (cols < MR) {
            V(strip_columns)(packed_a, m, k, k0, kc, b + j, row_offsets, cols, c + j, ldc, accumulate, finish, bias, relu, next_b);
            continue;
        }
#endif
        if (cols <= WIDTH / 2) {
            V(strip_half)(packed_a, m, k, k0, kc, b + j, row_offsets, cols, c + j, ldc, accumulate, finish, bias, relu, next_b);
            continue;
        }
        switch ((cols + WIDTH - 1) / WIDTH) {
        case 1:
            V(strip_1)(packed_a, m, k, k0, kc, b + j, row_offsets, cols, c + j, ldc, accumulate, finish, bias, relu, next_b);
            break;
        case 2:
            V(strip_2)(packed_a, m, k, k0, kc, b + j, row_offsets, cols, c + j, ldc, accumulate, finish, bias, relu, next_b);
            break;
#if NV > 2
        default:
            V(strip_3)(packed_a, m, k, k0, kc, b + j, row_offsets, cols, c + j, ldc, accumulate, finish, bias, relu, next_b);
            break;
#endif
        }
    }
}

#undef NR
#undef V
#undef JOIN
#undef JOIN2
