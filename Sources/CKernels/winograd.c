// Winograd F(4×4, 3×3) transforms (CWinograd.h), one source for three instruction sets as kernels.c does:
// winograd_variant.h compiled 4 wide for the baseline, 8 wide for AVX2, 16 wide for AVX-512.
#include "CWinograd.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

// Bit-for-bit agreement between the variants (and with the engine's earlier Swift transforms).
#pragma clang fp contract(off)

static size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

// One row of input_tiles' buffer (the vertical transform of six padded image rows): every tile group's loads
// (4·W floats and two vectors one tile further) stay inside it.
static size_t row_floats(size_t tile_columns, size_t width) {
    return round_up(4 * round_up(tile_columns, width) + width + 1, width);
}

size_t ck_winograd_buffer_floats(size_t tile_columns) { return 6 * row_floats(tile_columns, 16); }

// One row of input_band's and output_band's buffers for `tiles` tiles: the widest group's loads and stores (5
// vectors past its first tile's 4·g columns) stay inside it.
static size_t band_line_floats(size_t tiles, size_t width) { return round_up(4 * round_up(tiles, width) + 5 * width + 1, width); }

size_t ck_winograd_band_buffer_floats(size_t tiles) {
    return 6 * band_line_floats(tiles, 16) + 13 * (tiles + 16);
}

// Per variant: WIDTH, VARIANT and TARGET (vector_lanes.h gives the shuffle index lists for that width).
#define WIDTH 4
#define VARIANT portable
#define TARGET
#include "winograd_variant.h"

#define WIDTH 8
#define VARIANT avx2
#define TARGET __attribute__((target("avx2")))
#include "winograd_variant.h"

#define WIDTH 16
#define VARIANT avx512
#define TARGET __attribute__((target("avx512f")))
#include "winograd_variant.h"

static const ck_winograd_kernels variants[] = {
    {CK_ISA_PORTABLE, "portable", input_tiles_portable, output_tiles_portable, weight_tiles_portable, input_band_portable,
     output_band_portable},
    {CK_ISA_AVX2, "avx2", input_tiles_avx2, output_tiles_avx2, weight_tiles_avx2, input_band_avx2, output_band_avx2},
    {CK_ISA_AVX512, "avx512", input_tiles_avx512, output_tiles_avx512, weight_tiles_avx512, input_band_avx512,
     output_band_avx512},
};

const ck_winograd_kernels *ck_winograd_variant(ck_isa isa) {
    return ck_variant(isa) ? &variants[isa] : NULL;
}

const ck_winograd_kernels *ck_winograd_active(void) { return &variants[ck_active()->isa]; }
