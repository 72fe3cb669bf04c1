// The F(2×2×2, 3×3×3) tile transforms of one instruction set on Clang's vector extension: winograd3d.c includes
// this file once per variant with VARIANT, WIDTH and TARGET (vector_lanes.h adds W(load), W(store) and the shuffle
// index lists). WIDTH tiles of a row of tiles run at a time, one per lane.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define W(name) JOIN(name, VARIANT)

typedef float W(floats3d) __attribute__((vector_size(WIDTH * 4)));

#define LANES W(floats3d)
#include "vector_lanes.h"

// Lanes first ..< end of pointer[0 ..< WIDTH], zeros in the others; lanes outside are not read.
TARGET static inline W(floats3d) W(load_range)(const float *pointer, size_t first, size_t end) {
    if (first == 0 && end == WIDTH) return W(load)(pointer);
#if WIDTH == 16
    return (W(floats3d))_mm512_maskz_loadu_ps((__mmask16)(((1u << end) - 1) & ~((1u << first) - 1)), pointer);
#elif WIDTH == 8
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)end), lane),
                                      _mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)first - 1)));
    return (W(floats3d))_mm256_maskload_ps(pointer, inside);
#else
    W(floats3d) value = {0};
    for (size_t lane = first; lane < end; lane++) value[lane] = pointer[lane];
    return value;
#endif
}

// The lanes of a chunk of WIDTH columns from `column` (maybe negative) that fall inside a row `width` long:
// first ..< end, none when first ≥ end.
TARGET static inline void W(lanes_inside)(ptrdiff_t column, size_t width, size_t *first, size_t *end) {
    const ptrdiff_t low = -column, high = (ptrdiff_t)width - column;
    *first = low < 0 ? 0 : low > WIDTH ? WIDTH : (size_t)low;
    *end = high < 0 ? 0 : high > WIDTH ? WIDTH : (size_t)high;
}

// Bᵀ x lane-wise: [x0 − x2, x1 + x2, x2 − x1, x1 − x3].
TARGET static inline void W(input_transform)(W(floats3d) x0, W(floats3d) x1, W(floats3d) x2, W(floats3d) x3,
                                             W(floats3d) t[4]) {
    t[0] = x0 - x2;
    t[1] = x1 + x2;
    t[2] = x2 - x1;
    t[3] = x1 - x3;
}

// Aᵀ x lane-wise: [x0 + x1 + x2, x1 − x2 − x3].
TARGET static inline void W(output_transform)(W(floats3d) x0, W(floats3d) x1, W(floats3d) x2, W(floats3d) x3,
                                              W(floats3d) y[2]) {
    y[0] = x0 + x1 + x2;
    y[1] = x1 - x2 - x3;
}

TARGET static void W(input_tiles)(const float *volume, size_t depth, size_t height, size_t width, ptrdiff_t z0,
                                  ptrdiff_t y0, size_t first, size_t count, float *v, size_t v_stride, float *buffer) {
    const size_t row = row_floats(count, WIDTH);
    // The 4 × 4 input rows of the tile row, NULL outside the volume (zero rows).
    const float *rows[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            ptrdiff_t z = z0 + i, y = y0 + j;
            rows[i][j] = z < 0 || z >= (ptrdiff_t)depth || y < 0 || y >= (ptrdiff_t)height
                             ? NULL
                             : volume + ((size_t)z * height + (size_t)y) * width;
        }
    // Depth, then height, WIDTH columns at a time: buffer row 4·i + j holds point (i, j) of every column; its
    // column k is image column 2·first − 1 + k. Only the 2·count + 2 columns the tiles meet are made: the width
    // pass reads further (up to row_floats), but lanes that read there are not stored.
    for (size_t k = 0; k < 2 * count + 2; k += WIDTH) {
        const ptrdiff_t column = (ptrdiff_t)(2 * first + k) - 1;
        size_t inside, end;
        W(lanes_inside)(column, width, &inside, &end);
        W(floats3d) x[4][4], t[4][4], r[4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                x[i][j] = rows[i][j] && inside < end ? W(load_range)(rows[i][j] + column, inside, end) : (W(floats3d)){0};
        for (int j = 0; j < 4; j++) {
            W(input_transform)(x[0][j], x[1][j], x[2][j], x[3][j], r);
            for (int i = 0; i < 4; i++) t[i][j] = r[i];
        }
        for (int i = 0; i < 4; i++) {
            W(input_transform)(t[i][0], t[i][1], t[i][2], t[i][3], r);
            for (int j = 0; j < 4; j++) memcpy(buffer + (4 * i + j) * row + k, &r[j], sizeof r[j]);
        }
    }
    // Width: tile first + g takes buffer columns 2·g … 2·g + 3, split out WIDTH tiles at a time.
    for (size_t line = 0; line < 16; line++) {
        const float *columns = buffer + line * row;
        float *points = v + 4 * line * v_stride;
        for (size_t g = 0; g < count; g += WIDTH) {
            const float *at = columns + 2 * g;
            W(floats3d) a0 = W(load)(at), a1 = W(load)(at + WIDTH);
            W(floats3d) x0 = __builtin_shufflevector(a0, a1, EVENS), x1 = __builtin_shufflevector(a0, a1, ODDS);
            // Columns 2 and 3 of a tile are columns 0 and 1 of the next one.
            W(floats3d) x2 = __builtin_shufflevector(x0, W(load)(at + 2 * WIDTH), SHIFT1);
            W(floats3d) x3 = __builtin_shufflevector(x1, W(load)(at + 2 * WIDTH + 1), SHIFT1);
            W(floats3d) t[4];
            W(input_transform)(x0, x1, x2, x3, t);
            const size_t lanes = count - g < WIDTH ? count - g : WIDTH;
            for (size_t l = 0; l < 4; l++) W(store)(points + l * v_stride + g, t[l], lanes);
        }
    }
}

TARGET static void W(output_tiles)(const float *m, size_t m_stride, size_t first, size_t count, float *out,
                                   size_t plane_stride, size_t planes, size_t rows, size_t width, float bias,
                                   int accumulate, int relu) {
    for (size_t g = 0; g < count; g += WIDTH) {
        // Width, then height, then depth: a[i][j][c], b[i][r][c], y[p][r][c] (c the output column within a tile).
        W(floats3d) a[4][4][2], b[4][2][2], y[2][2][2], s[2];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const float *point = m + (size_t)(16 * i + 4 * j) * m_stride + g;
                W(output_transform)(W(load)(point), W(load)(point + m_stride), W(load)(point + 2 * m_stride),
                                    W(load)(point + 3 * m_stride), a[i][j]);
            }
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 2; c++) {
                W(output_transform)(a[i][0][c], a[i][1][c], a[i][2][c], a[i][3][c], s);
                b[i][0][c] = s[0];
                b[i][1][c] = s[1];
            }
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) {
                W(output_transform)(b[0][r][c], b[1][r][c], b[2][r][c], b[3][r][c], s);
                y[0][r][c] = s[0];
                y[1][r][c] = s[1];
            }
        // Output columns 2·(first + g) …: the tiles' two columns interleaved into up to 2·WIDTH consecutive ones.
        const size_t column = 2 * (first + g), tiles = count - g < WIDTH ? count - g : WIDTH;
        const size_t columns = width - column < 2 * tiles ? width - column : 2 * tiles;
        for (size_t p = 0; p < planes; p++)
            for (size_t r = 0; r < rows; r++) {
                W(floats3d) line[2] = {__builtin_shufflevector(y[p][r][0], y[p][r][1], ZIP_LO),
                                       __builtin_shufflevector(y[p][r][0], y[p][r][1], ZIP_HI)};
                float *target = out + p * plane_stride + r * width + column;
                for (size_t q = 0; q < 2 && q * WIDTH < columns; q++) {
                    const size_t lanes = columns - q * WIDTH < WIDTH ? columns - q * WIDTH : WIDTH;
                    W(floats3d) x = line[q];
                    if (accumulate) x = W(load_range)(target + q * WIDTH, 0, lanes) + x;
                    x = x + bias;
                    if (relu) x = __builtin_elementwise_max(x, (W(floats3d)){0});
                    W(store)(target + q * WIDTH, x, lanes);
                }
            }
    }
}

#include "vector_lanes_end.h"
