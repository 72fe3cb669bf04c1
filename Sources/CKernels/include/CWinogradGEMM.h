// The per-element products of a Winograd convolution of small groups (Inference's GroupedWinograd3x3): for each of
// the 36 elements of a 6×6 tile, M[out × tiles] = U[in × out]ᵀ · V[in × tiles], with in and out a group's width (64
// in ECA-NFNet) and tiles as few as 4 (one 7×7 image). OpenBLAS and the packed GEMM (CKernelsGEMM.h, 48 columns
// per micro-tile) lose most of their lanes at those widths; this kernel sizes its register tile to the columns
// left (1 to 3 vectors of tiles × CK_WINOGRAD_GEMM_ROWS output channels) and reads U in place (one weight
// transform per group and call, no packing).
// Variants per instruction set as in CKernels.h (AVX-512: 8 rows × 3 vectors of 16; AVX2: 4 × 3 of 8; portable:
// 4 × 2 of 4); the wide ones fuse multiply and add, so they differ from the portable one by rounding only.
#ifndef MGMT_CWINOGRAD_GEMM_H
#define MGMT_CWINOGRAD_GEMM_H

#include <stddef.h>

#include "CKernels.h"

#ifdef __cplusplus
extern "C" {
#endif

// m must be a multiple of this (every variant's tile height divides it).
#define CK_WINOGRAD_GEMM_ROWS 8
// Floats each row of v may be read past its n columns (values there are never used): the caller leaves that slack.
#define CK_WINOGRAD_GEMM_READ_PAST 16

// c[r · ldc + j] = Σ_kk u[kk · m + r] · v[kk · ldv + j] for r < m, j < n (u is k-major: row kk holds the m
// outputs' weights of input kk). Writes only those m × n values of c.
typedef void (*ck_winograd_gemm_fn)(const float *u, size_t m, size_t k, const float *v, size_t ldv, size_t n, float *c,
                                    size_t ldc);

// The variant for `isa`, or NULL when this CPU cannot run it (tests compare each with the portable one).
ck_winograd_gemm_fn ck_winograd_gemm_variant(ck_isa isa);

// The variant of ck_active()'s instruction set.
ck_winograd_gemm_fn ck_winograd_gemm(void);

#ifdef __cplusplus
}
#endif

#endif
