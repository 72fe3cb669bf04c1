// Winograd F(4×4, 3×3) transforms of the inference engine (Inference's Winograd3x3 runs the 36 GEMMs between
// them), compiled per instruction set like CKernels.h's element-wise kernels and chosen on the same CPUID check
// (ck_active()->isa, so MGMT_KERNELS picks these too). Every variant runs the same operations in the same order
// without fused multiply-add, so all agree bit for bit; the tile transforms compute exactly what the engine's
// earlier Swift transforms did, the weight transform runs in float (it ran in double once at load, when U was
// kept; U differs from that by float rounding, ~1e-7 relative).
// Element e = 6·i + j of a 6×6 tile is row i (the vertical transform), column j (the horizontal one).
#ifndef MGMT_CWINOGRAD_H
#define MGMT_CWINOGRAD_H

#include <stddef.h>

#include "CKernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    ck_isa isa;
    const char *name;
    // V = Bᵀ d B for the tiles of tile row `tile_row` of one plane [height][width] (3×3 kernel, padding 1): tile tx
    // covers image rows 4·tile_row − 1 … + 4 and columns 4·tx − 1 … + 4, zero outside the image. Element e of
    // tile tx goes to v[e · v_stride + tx], tx < tile_columns. `buffer` holds ck_winograd_buffer_floats floats.
    void (*input_tiles)(const float *plane, size_t height, size_t width, size_t tile_row, size_t tile_columns,
                        float *v, size_t v_stride, float *buffer);
    // Y = Aᵀ M A for the tiles of tile row `tile_row` of one output plane [height][width]: element e of tile tx
    // is m[e · m_stride + tx]; writes the output rows 4·tile_row … + 3 below `height`, columns below `width`.
    // Reads m up to the next multiple of the vector width past tile_columns (never uses those values).
    void (*output_tiles)(const float *m, size_t m_stride, size_t tile_columns, float *plane, size_t height,
                         size_t width, size_t tile_row);
    // U = G k Gᵀ of `count` 3×3 kernels stored as nine planes `raw_stride` floats apart (plane 3·a + b holds tap
    // (a, b) of each kernel, kernels consecutive): element e of kernel p goes to u[e · u_stride + p].
    void (*weight_tiles)(const float *raw, size_t raw_stride, size_t count, float *u, size_t u_stride);
    // input_tiles over a band of tile rows that may span images, for planes with few tile columns: band row j is
    // tile row u % tile_rows of the image at plane + (u / tile_rows) · image_stride, u = first_row + j, and its
    // tile tx goes to v[e · v_stride + j · tile_columns + tx]; the band's tiles share vectors. `buffer` holds
    // ck_winograd_band_buffer_floats(rows · tile_columns) floats.
    void (*input_band)(const float *plane, size_t image_stride, size_t height, size_t width, size_t tile_rows,
                       size_t first_row, size_t rows, size_t tile_columns, float *v, size_t v_stride, float *buffer);
    // output_tiles over input_band's band: element e of band tile j · tile_columns + tx is
    // m[e · m_stride + j · tile_columns + tx]; writes the band's output rows below `height` of each image's plane.
    // Reads m as output_tiles does.
    void (*output_band)(const float *m, size_t m_stride, size_t tile_rows, size_t first_row, size_t rows,
                        size_t tile_columns, float *plane, size_t image_stride, size_t height, size_t width,
                        float *buffer);
} ck_winograd_kernels;

// Floats of input_tiles' buffer for a plane of `tile_columns` tile columns.
size_t ck_winograd_buffer_floats(size_t tile_columns);

// Floats of input_band's and output_band's buffer for a band of `tiles` tiles.
size_t ck_winograd_band_buffer_floats(size_t tiles);

// Floats output_tiles may read past the last tile of m (the widest vector).
#define CK_WINOGRAD_READ_PAST 16

// The variant ck_active() chose.
const ck_winograd_kernels *ck_winograd_active(void);

// A given variant, or NULL when this CPU cannot run it (for tests).
const ck_winograd_kernels *ck_winograd_variant(ck_isa isa);

#ifdef __cplusplus
}
#endif

#endif
