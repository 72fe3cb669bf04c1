// The Winograd transforms of one instruction set on Clang's vector extension: winograd.c includes this file once
// per variant with VARIANT, WIDTH and TARGET (vector_lanes.h adds the shuffle index lists). Tiles run WIDTH at a time, one tile per lane.

#define JOIN2(a, b) a##_##b
#define JOIN(a, b) JOIN2(a, b)
#define W(name) JOIN(name, VARIANT)

typedef float W(wfloats) __attribute__((vector_size(WIDTH * 4)));
#define LANES W(wfloats)
#include "vector_lanes.h"
typedef int32_t W(wints) __attribute__((vector_size(WIDTH * 4)));

// The first `lanes` floats at pointer, zeros in the other lanes.
TARGET static inline W(wfloats) W(load_lanes)(const float *pointer, size_t lanes) {
    if (lanes == WIDTH) return W(load)(pointer);
    W(wfloats) value = {0};
    for (size_t lane = 0; lane < lanes; lane++) value[lane] = pointer[lane];
    return value;
}

// Bᵀ x for a column x of six, Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0;
// 0 4 0 −5 0 1], lane-wise.
TARGET static inline void W(input_transform)(const W(wfloats) x[6], W(wfloats) t[6]) {
    W(wfloats) d13 = x[1] - x[3], s4m2 = x[4] - x[2];
    t[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];
    t[1] = x[3] + x[4] - 4.0f * (x[1] + x[2]);
    t[2] = 4.0f * (x[1] - x[2]) - x[3] + x[4];
    t[3] = s4m2 - 2.0f * d13;
    t[4] = s4m2 + 2.0f * d13;
    t[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
}

// Aᵀ x for a column x of six, Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1], lane-wise.
TARGET static inline void W(output_transform)(const W(wfloats) m[6], W(wfloats) y[4]) {
    W(wfloats) s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = d12 + 2.0f * d34;
    y[2] = s12 + 4.0f * s34;
    y[3] = d12 + 8.0f * d34 + m[5];
}

// G x for a column x of three, G = [1/4 0 0; −1/6 −1/6 −1/6; −1/6 1/6 −1/6; 1/24 1/12 1/6; 1/24 −1/12 1/6; 0 0 1],
// lane-wise, sharing the sums its rows have in common.
TARGET static inline void W(kernel_transform)(W(wfloats) x0, W(wfloats) x1, W(wfloats) x2, W(wfloats) t[6]) {
    W(wfloats) outer = x0 + x2;
    W(wfloats) even = x0 * (1.0f / 24) + x2 * (1.0f / 6), odd = x1 * (1.0f / 12);
    t[0] = x0 * 0.25f;
    t[1] = (outer + x1) * (-1.0f / 6);
    t[2] = (outer - x1) * (-1.0f / 6);
    t[3] = even + odd;
    t[4] = even - odd;
    t[5] = x2;
}

// Columns k … k + WIDTH − 1 of a zero-padded image row (padded column k is image column k − 1): one load inside
// the image, a masked one across its edges (the masked-out lanes are not read), zeros past it.
TARGET static inline W(wfloats) W(padded_columns)(const float *row, size_t width, size_t k) {
    if (k >= 1 && k - 1 + WIDTH <= width) return W(load)(row + k - 1);
    if (k > width) return (W(wfloats)){0};
    size_t first = k == 0 ? 1 : 0, end = width + 1 - k < WIDTH ? width + 1 - k : WIDTH;  // lanes inside the image
#if WIDTH == 16
    return (W(wfloats))_mm512_maskz_loadu_ps((__mmask16)(((1u << end) - 1) & ~((1u << first) - 1)), row + k - 1);
#elif WIDTH == 8
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)end), lane),
                                      _mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)first - 1)));
    return (W(wfloats))_mm256_maskload_ps(row + k - 1, inside);
#else
    W(wfloats) value = {0};
    for (size_t lane = first; lane < end; lane++) value[lane] = row[k + lane - 1];
    return value;
#endif
}

// The six columns of WIDTH consecutive tiles (tile i's at 4·i … 4·i + 5 from `at`), column c of every tile in x[c].
TARGET static inline void W(tile_columns)(const float *at, W(wfloats) x[6]) {
    W(wfloats) a0 = W(load)(at), a1 = W(load)(at + WIDTH), a2 = W(load)(at + 2 * WIDTH), a3 = W(load)(at + 3 * WIDTH);
    W(wfloats) even01 = __builtin_shufflevector(a0, a1, EVENS), odd01 = __builtin_shufflevector(a0, a1, ODDS);
    W(wfloats) even23 = __builtin_shufflevector(a2, a3, EVENS), odd23 = __builtin_shufflevector(a2, a3, ODDS);
    x[0] = __builtin_shufflevector(even01, even23, EVENS);
    x[1] = __builtin_shufflevector(odd01, odd23, EVENS);
    x[2] = __builtin_shufflevector(even01, even23, ODDS);
    x[3] = __builtin_shufflevector(odd01, odd23, ODDS);
    // Columns 4 and 5 of a tile are columns 0 and 1 of the next one.
    x[4] = __builtin_shufflevector(x[0], W(load)(at + 4 * WIDTH), SHIFT1);
    x[5] = __builtin_shufflevector(x[1], W(load)(at + 4 * WIDTH + 1), SHIFT1);
}

// The vertical half of Aᵀ M A for WIDTH consecutive tiles (element e of tile i at m[e · m_stride + i]): a[j][row]
// is row `row` of Aᵀ M in tile column j.
TARGET static inline void W(output_columns)(const float *m, size_t m_stride, W(wfloats) a[6][4]) {
    for (size_t j = 0; j < 6; j++) {
        W(wfloats) column[6];
        for (size_t i = 0; i < 6; i++) column[i] = W(load)(m + (6 * i + j) * m_stride);
        W(output_transform)(column, a[j]);
    }
}

// Output row `row` of those tiles from output_columns' a: line[q] holds columns q·WIDTH … of the tiles side by side
// (tile i's four columns at 4·i).
TARGET static inline void W(output_row)(W(wfloats) a[6][4], size_t row, W(wfloats) line[4]) {
    W(wfloats) values[6], out[4];
    for (size_t j = 0; j < 6; j++) values[j] = a[j][row];
    W(output_transform)(values, out);
    // out[c] holds output column c of WIDTH tiles: interleave them into 4·WIDTH consecutive columns.
    W(wfloats) lo01 = __builtin_shufflevector(out[0], out[1], ZIP_LO), hi01 = __builtin_shufflevector(out[0], out[1], ZIP_HI);
    W(wfloats) lo23 = __builtin_shufflevector(out[2], out[3], ZIP_LO), hi23 = __builtin_shufflevector(out[2], out[3], ZIP_HI);
    line[0] = __builtin_shufflevector(lo01, lo23, PAIRS_LO);
    line[1] = __builtin_shufflevector(lo01, lo23, PAIRS_HI);
    line[2] = __builtin_shufflevector(hi01, hi23, PAIRS_LO);
    line[3] = __builtin_shufflevector(hi01, hi23, PAIRS_HI);
}

// Bᵀ d down the six zero-padded image rows of tile row `tile_row` (image rows 4·tile_row − 1 … + 4), for padded
// columns 0 … `columns` − 1 rounded up to WIDTH: row i of the result at r + i · r_stride.
TARGET static inline void W(vertical)(const float *plane, size_t height, size_t width, size_t tile_row, size_t columns,
                                      float *r, size_t r_stride) {
    // The six image rows of the tile row, NULL above and below the image (zero rows).
    const float *rows[6];
    for (size_t i = 0; i < 6; i++) {
        ptrdiff_t y = (ptrdiff_t)(4 * tile_row + i) - 1;
        rows[i] = y < 0 || (size_t)y >= height ? NULL : plane + (size_t)y * width;
    }
    for (size_t k = 0; k < columns; k += WIDTH) {
        W(wfloats) x[6], t[6];
        for (int i = 0; i < 6; i++) x[i] = rows[i] ? W(padded_columns)(rows[i], width, k) : (W(wfloats)){0};
        W(input_transform)(x, t);
        for (int i = 0; i < 6; i++) memcpy(r + i * r_stride + k, &t[i], sizeof t[i]);
    }
}

TARGET static void W(input_tiles)(const float *plane, size_t height, size_t width, size_t tile_row,
                                  size_t tile_columns, float *v, size_t v_stride, float *buffer) {
    const size_t row = row_floats(tile_columns, WIDTH);
    float *r = buffer;
    // Vertical: r = Bᵀ d over the zero-padded rows, WIDTH columns at a time.
    W(vertical)(plane, height, width, tile_row, row, r, row);
    // Horizontal: tile tx takes padded columns 4·tx … 4·tx + 5 of each r row, split out WIDTH tiles at a time.
    for (size_t i = 0; i < 6; i++) {
        const float *line = r + i * row;
        float *first = v + 6 * i * v_stride;
        for (size_t g = 0; g < tile_columns; g += WIDTH) {
            W(wfloats) x[6], t[6];
            W(tile_columns)(line + 4 * g, x);
            W(input_transform)(x, t);
            size_t lanes = tile_columns - g < WIDTH ? tile_columns - g : WIDTH;
            for (size_t j = 0; j < 6; j++) W(store)(first + j * v_stride + g, t[j], lanes);
        }
    }
}

TARGET static void W(output_tiles)(const float *m, size_t m_stride, size_t tile_columns, float *plane, size_t height,
                                   size_t width, size_t tile_row) {
    for (size_t g = 0; g < tile_columns; g += WIDTH) {
        W(wfloats) a[6][4], line[4];
        W(output_columns)(m + g, m_stride, a);
        for (size_t row = 0; row < 4; row++) {
            size_t y = 4 * tile_row + row;
            if (y >= height) break;
            W(output_row)(a, row, line);
            float *target = plane + y * width + 4 * g;
            size_t columns = width - 4 * g < 4 * WIDTH ? width - 4 * g : 4 * WIDTH;
            for (size_t q = 0; q < 4 && q * WIDTH < columns; q++) {
                size_t lanes = columns - q * WIDTH < WIDTH ? columns - q * WIDTH : WIDTH;
                W(store)(target + q * WIDTH, line[q], lanes);
            }
        }
    }
}

TARGET static void W(weight_tiles)(const float *raw, size_t raw_stride, size_t count, float *u, size_t u_stride) {
    for (size_t p = 0; p < count; p += WIDTH) {
        size_t lanes = count - p < WIDTH ? count - p : WIDTH;
        W(wfloats) k[9], t[6][3], row[6];
        for (size_t tap = 0; tap < 9; tap++) k[tap] = W(load_lanes)(raw + tap * raw_stride + p, lanes);
        // t = G k, column by column; then U = t Gᵀ, row by row.
        for (size_t b = 0; b < 3; b++) {
            W(wfloats) column[6];
            W(kernel_transform)(k[b], k[3 + b], k[6 + b], column);
            for (size_t i = 0; i < 6; i++) t[i][b] = column[i];
        }
        for (size_t i = 0; i < 6; i++) {
            W(kernel_transform)(t[i][0], t[i][1], t[i][2], row);
            for (size_t j = 0; j < 6; j++) W(store)(u + (6 * i + j) * u_stride + p, row[j], lanes);
        }
    }
}

// input_tiles for the tile rows first_row ..< first_row + rows of a stack of images (row u is tile row
// u % tile_rows of the image at plane + (u / tile_rows) · image_stride): tile tx of band row j goes to column
// j · tile_columns + tx of v, so the few tiles of a small plane's rows (and of several images) share vectors. In r,
// band row j's vertical transform lies at columns j · 4 · tile_columns on (no gaps), so every tile starts 4 columns
// after the one before; the two columns past each row's last tile (which the next row's first columns take) are
// kept aside in `tail` and blended into that tile's lanes.
TARGET static void W(input_band)(const float *plane, size_t image_stride, size_t height, size_t width, size_t tile_rows,
                                 size_t first_row, size_t rows, size_t tile_columns, float *v, size_t v_stride,
                                 float *buffer) {
    const size_t span = 4 * tile_columns, tiles = rows * tile_columns;
    const size_t line = band_line_floats(tiles, WIDTH), tail_line = tiles + WIDTH;
    float *r = buffer, *tail = r + 6 * line;  // tail: [6][2][tail_line], then the last-tile lane mask
    int32_t *last = (int32_t *)(tail + 12 * tail_line);
    for (size_t t = 0; t < tiles; t++) last[t] = t % tile_columns == tile_columns - 1 ? -1 : 0;
    for (size_t j = 0; j < rows; j++) {
        const size_t unit = first_row + j, ty = unit % tile_rows;
        const float *image = plane + unit / tile_rows * image_stride;
        W(vertical)(image, height, width, ty, span + 2, r + j * span, line);
        for (size_t i = 0; i < 6; i++) {
            tail[(2 * i) * tail_line + j * tile_columns + tile_columns - 1] = r[i * line + j * span + span];
            tail[(2 * i + 1) * tail_line + j * tile_columns + tile_columns - 1] = r[i * line + j * span + span + 1];
        }
    }
    for (size_t i = 0; i < 6; i++) {
        const float *row = r + i * line, *tail4 = tail + 2 * i * tail_line, *tail5 = tail4 + tail_line;
        float *first = v + 6 * i * v_stride;
        for (size_t g = 0; g < tiles; g += WIDTH) {
            W(wfloats) x[6], t[6];
            W(tile_columns)(row + 4 * g, x);
            W(wints) mask;
            memcpy(&mask, last + g, sizeof mask);
            x[4] = (W(wfloats))(((W(wints))x[4] & ~mask) | ((W(wints))W(load)(tail4 + g) & mask));
            x[5] = (W(wfloats))(((W(wints))x[5] & ~mask) | ((W(wints))W(load)(tail5 + g) & mask));
            W(input_transform)(x, t);
            size_t lanes = tiles - g < WIDTH ? tiles - g : WIDTH;
            for (size_t j = 0; j < 6; j++) W(store)(first + j * v_stride + g, t[j], lanes);
        }
    }
}

// output_tiles for the tile rows of input_band's numbering (tile tx of band row j at column j · tile_columns + tx
// of m): every tile's 4×4 block goes to four rows of the buffer side by side, then each band row's rows are
// copied into their image's plane (plane + image · image_stride), cut at height and width.
TARGET static void W(output_band)(const float *m, size_t m_stride, size_t tile_rows, size_t first_row, size_t rows,
                                  size_t tile_columns, float *plane, size_t image_stride, size_t height, size_t width,
                                  float *buffer) {
    const size_t span = 4 * tile_columns, tiles = rows * tile_columns, band = band_line_floats(tiles, WIDTH);
    for (size_t g = 0; g < tiles; g += WIDTH) {
        W(wfloats) a[6][4], line[4];
        W(output_columns)(m + g, m_stride, a);
        for (size_t row = 0; row < 4; row++) {
            W(output_row)(a, row, line);
            memcpy(buffer + row * band + 4 * g, line, sizeof line);
        }
    }
    for (size_t j = 0; j < rows; j++) {
        const size_t unit = first_row + j, ty = unit % tile_rows;
        float *image = plane + unit / tile_rows * image_stride;
        for (size_t row = 0; row < 4 && 4 * ty + row < height; row++)
            memcpy(image + (4 * ty + row) * width, buffer + row * band + j * span, width * sizeof(float));
    }
}

#include "vector_lanes_end.h"
