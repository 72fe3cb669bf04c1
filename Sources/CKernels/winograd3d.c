// Winograd F(2×2×2, 3×3×3) transforms (CWinograd3D.h): winograd3d_variant.h compiled 4 wide for the baseline, 8
// wide for AVX2, 16 wide for AVX-512, one tile per lane; the weight transform once, in double, at load.
#include "CWinograd3D.h"

#include <immintrin.h>
#include <string.h>

// Bit-for-bit agreement between the variants.
#pragma clang fp contract(off)

static size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// One row of input_tiles' buffer (16 rows: the depth and height transforms of a tile row's 4 × 4 input rows,
// 2·count + 2 columns): the width pass loads three vectors and one more float past tile group g's 2·g columns.
static size_t row_floats(size_t count, size_t width) { return round_up(2 * round_up(count, width) + width + 1, width); }

size_t ck_winograd3d_buffer_floats(size_t count) { return 16 * row_floats(count, 16); }

// Per variant: WIDTH, VARIANT and TARGET (vector_lanes.h gives the shuffle index lists for that width).
#define WIDTH 4
#define VARIANT portable
#define TARGET
#include "winograd3d_variant.h"

#define WIDTH 8
#define VARIANT avx2
#define TARGET __attribute__((target("avx2")))
#include "winograd3d_variant.h"

#define WIDTH 16
#define VARIANT avx512
#define TARGET __attribute__((target("avx512f")))
#include "winograd3d_variant.h"

static const ck_winograd3d_kernels variants[] = {
    {CK_ISA_PORTABLE, "portable", input_tiles_portable, output_tiles_portable},
    {CK_ISA_AVX2, "avx2", input_tiles_avx2, output_tiles_avx2},
    {CK_ISA_AVX512, "avx512", input_tiles_avx512, output_tiles_avx512},
};

const ck_winograd3d_kernels *ck_winograd3d_variant(ck_isa isa) { return ck_variant(isa) ? &variants[isa] : NULL; }

const ck_winograd3d_kernels *ck_winograd3d_active(void) { return &variants[ck_active()->isa]; }

// G x for three values x[0], x[stride], x[2·stride].
static void kernel_transform(const double *x, size_t stride, double t[4]) {
    t[0] = x[0];
    t[1] = 0.5 * (x[0] + x[stride] + x[2 * stride]);
    t[2] = 0.5 * (x[0] - x[stride] + x[2 * stride]);
    t[3] = x[2 * stride];
}

void ck_winograd3d_weights(const float *g, size_t count, float *u, size_t u_stride) {
    for (size_t p = 0; p < count; p++) {
        double k[27], a[4][3][3], b[4][4][3], t[4];
        for (int i = 0; i < 27; i++) k[i] = g[27 * p + i];
        // Along depth (k[kz][ky][kx] → a[i][ky][kx]), then height (→ b[i][j][kx]), then width (→ point (i, j, l)).
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) {
                kernel_transform(k + 3 * y + x, 9, t);
                for (int i = 0; i < 4; i++) a[i][y][x] = t[i];
            }
        for (int i = 0; i < 4; i++)
            for (int x = 0; x < 3; x++) {
                kernel_transform(&a[i][0][x], 3, t);
                for (int j = 0; j < 4; j++) b[i][j][x] = t[j];
            }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                kernel_transform(b[i][j], 1, t);
                for (int l = 0; l < 4; l++) u[(size_t)(16 * i + 4 * j + l) * u_stride + p] = (float)t[l];
            }
    }
}
