// Winograd F(2×2×2, 3×3×3) transforms for Conv3d's stride-1, padding-1 3×3×3 convolutions (Inference's
// Winograd3x3x3 runs the 64 per-point GEMMs between them on CKernelsGEMM.h): a 4×4×4 input tile gives 64 points,
// 8 outputs, 3.4× fewer multiplications than the direct form. F(2, 3)'s points 0, ±1 keep the matrices to 0, ±1
// and ½: Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
// Tile transforms per instruction set, chosen on ck_active()->isa (so MGMT_KERNELS applies); all variants run the
// same operations in the same order without fused multiply-add, so they agree bit for bit.
// Point e = 16·i + 4·j + k of a tile is point i along depth, j along height, k along width.
#ifndef MGMT_CWINOGRAD3D_H
#define MGMT_CWINOGRAD3D_H

#include <stddef.h>

#include "CKernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    ck_isa isa;
    const char *name;
    // V = Bᵀ d B along the three axes for tiles first ..< first + count of one row of tiles of one channel
    // `volume` [depth][height][width]: tile tx covers planes z0 … z0 + 3, rows y0 … y0 + 3 and columns
    // 2·tx − 1 … 2·tx + 2, zero outside the volume. Point e of the tile first + t goes to v[e · v_stride + t].
    // `buffer` holds ck_winograd3d_buffer_floats(count) floats.
    void (*input_tiles)(const float *volume, size_t depth, size_t height, size_t width, ptrdiff_t z0, ptrdiff_t y0,
                        size_t first, size_t count, float *v, size_t v_stride, float *buffer);
    // Y = Aᵀ M A along the three axes for tiles first ..< first + count of one row of tiles of one output channel:
    // point e of tile first + t is m[e · m_stride + t]. Tile tx's outputs go to columns 2·tx, 2·tx + 1 (those
    // below `width`) of rows 0 and 1 (below `rows`) of planes 0 and 1 (below `planes`) at `out` (rows `width`
    // floats apart, planes `plane_stride`); each is (out + Y if accumulate, else Y) + bias, then max(·, 0) if
    // relu. Reads m up to CK_WINOGRAD3D_READ_PAST floats past the last tile (never uses those values).
    void (*output_tiles)(const float *m, size_t m_stride, size_t first, size_t count, float *out, size_t plane_stride,
                         size_t planes, size_t rows, size_t width, float bias, int accumulate, int relu);
} ck_winograd3d_kernels;

// Floats of input_tiles' buffer for a row segment of `count` tiles.
size_t ck_winograd3d_buffer_floats(size_t count);

// Floats output_tiles may read past the last tile of m (the widest vector).
#define CK_WINOGRAD3D_READ_PAST 16

// U = G g Gᵀ along the three axes of `count` 3×3×3 kernels, 27 consecutive floats each ([kz][ky][kx]): point e
// of kernel p goes to u[e · u_stride + p]. Computed in double, rounded once: it runs at load, in one variant.
void ck_winograd3d_weights(const float *g, size_t count, float *u, size_t u_stride);

// The variant ck_active() chose.
const ck_winograd3d_kernels *ck_winograd3d_active(void);

// A given variant, or NULL when this CPU cannot run it (for tests).
const ck_winograd3d_kernels *ck_winograd3d_variant(ck_isa isa);

#ifdef __cplusplus
}
#endif

#endif
