#!/usr/bin/env python3
"""Writes the Imaging test fixtures: inputs and OpenCV 4.8.1 / albumentations 1.1.0 outputs as .npy.

Run with the reference environment (opencv-python 4.8.1 with IPP, albumentations 1.1.0, numpy):
    "$(scripts/reference-python.sh)" tools/reference/opencv_fixtures.py [OUTDIR]
Default OUTDIR: Tests/ImagingTests/Fixtures. Deterministic (fixed seeds); single-threaded OpenCV.
"""
import os
import sys

import albumentations as A
import cv2
import numpy as np

from contour_tables import contour_tables

cv2.setNumThreads(1)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "ImagingTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20211)
FLOAT_FACTOR = np.float32(1.0079)  # float inputs are uint8 inputs * this (both sides compute it in float32)


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array))


def brain_slice(height, width, seed):
    """A smooth, brain-like uint8 slice: textured ellipse on black, a brighter blob inside."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = height / 2, width / 2
    head = ((yy - cy) / (0.42 * height)) ** 2 + ((xx - cx) / (0.36 * width)) ** 2 < 1
    texture = cv2.GaussianBlur(r.random((height, width)).astype(np.float32), (0, 0), 3)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    image = np.where(head, 60 + 150 * texture, 0)
    blob = ((yy - cy * 0.8) ** 2 + (xx - cx * 1.2) ** 2) < (0.12 * height) ** 2
    image = np.where(blob & head, np.minimum(image + 60, 255), image)
    return image.astype(np.uint8)


def mask_of(image, seed):
    """Two {0,1} masks (whole tumour, enhancing) inside the brain, for classifier frames."""
    r = np.random.default_rng(seed)
    h, w = image.shape
    noise = cv2.GaussianBlur(r.random((h, w)).astype(np.float32), (0, 0), 6)
    wt = ((noise > np.quantile(noise, 0.93)) & (image > 0)).astype(np.uint8)
    et = (wt & (noise > np.quantile(noise, 0.97))).astype(np.uint8)
    return wt, et


# ---------------------------------------------------------------- resize (INTER_LINEAR)
brain = brain_slice(240, 240, 1)
save("brain240_u8", brain)
smooth155x190 = brain_slice(155, 190, 2)
save("smooth155x190_u8", smooth155x190)
random256 = rng.integers(0, 256, (256, 256), dtype=np.uint8)
save("random256_u8", random256)
tiny5x7 = rng.integers(0, 256, (5, 7), dtype=np.uint8)  # H=5, W=7
save("tiny5x7_u8", tiny5x7)
odd33x17 = rng.integers(0, 256, (33, 17), dtype=np.uint8)
save("odd33x17_u8", odd33x17)
even48x64 = rng.integers(0, 256, (48, 64), dtype=np.uint8)
save("even48x64_u8", even48x64)
small64 = rng.integers(0, 256, (64, 64), dtype=np.uint8)
save("small64_u8", small64)

# (case name, input name, input array, (out width, out height), also float?)
resize_cases = [
    ("brain240_to268", brain, (268, 268), True),
    ("smooth155x190_to224", smooth155x190, (224, 224), True),
    ("random256_to224", random256, (224, 224), False),
    ("tiny5x7_to224", tiny5x7, (224, 224), False),
    ("tiny5x7_to224x64", tiny5x7, (224, 64), True),
    ("odd33x17_to40x9", odd33x17, (40, 9), True),
    ("even48x64_to32x24", even48x64, (32, 24), True),  # exact 2x: INTER_AREA fast path on uint8
    ("small64_to56", small64, (56, 56), True),
    ("small64_to71x50", small64, (71, 50), True),
]
FLOAT_ROWS_KEPT = {"smooth155x190_to224": 64}  # only the top rows of some big float outputs are stored
for name, image, size, with_float in resize_cases:
    save(f"resize_{name}_u8", cv2.resize(image, size, interpolation=cv2.INTER_LINEAR))
    if with_float:
        result = cv2.resize(image.astype(np.float32) * FLOAT_FACTOR, size, interpolation=cv2.INTER_LINEAR)
        save(f"resize_{name}_f32", result[:FLOAT_ROWS_KEPT.get(name, size[1])])
# 268 -> 240 from the 240 -> 268 outputs (no extra inputs stored)
up_u8 = cv2.resize(brain, (268, 268), interpolation=cv2.INTER_LINEAR)
up_f32 = cv2.resize(brain.astype(np.float32) * FLOAT_FACTOR, (268, 268), interpolation=cv2.INTER_LINEAR)
save("resize_brain268_to240_u8", cv2.resize(up_u8, (240, 240), interpolation=cv2.INTER_LINEAR))
save("resize_brain268_to240_f32", cv2.resize(up_f32, (240, 240), interpolation=cv2.INTER_LINEAR)[:64])
# three channels at once: OpenCV treats channels independently
hwc = np.dstack([odd33x17, odd33x17[::-1], 255 - odd33x17])
save("resize_odd33x17x3_to40x9_u8", cv2.resize(hwc, (40, 9), interpolation=cv2.INTER_LINEAR))
save("resize_odd33x17x3_to40x9_f32", cv2.resize(hwc.astype(np.float32) * FLOAT_FACTOR, (40, 9),
                                                 interpolation=cv2.INTER_LINEAR))

# ---------------------------------------------------------------- warpAffine / albumentations Affine zoom
zoom = A.Affine(scale=1.2, p=1.0)  # T4E's TTA: bilinear, constant 0, same size
wt, et = mask_of(brain, 3)
frame = np.dstack([brain, wt * 255, et * 255])
save("frame240_u8", frame)
save("zoom_frame240_u8", zoom(image=frame)["image"])
save("zoom_smooth155x190_u8", zoom(image=smooth155x190)["image"])
save("zoom_smooth155x190_f32", zoom(image=smooth155x190.astype(np.float32) * FLOAT_FACTOR)["image"])
small_frame = np.dstack([odd33x17, odd33x17[::-1], odd33x17[:, ::-1]])
save("zoom_odd33x17x3_f32", zoom(image=small_frame.astype(np.float32) * FLOAT_FACTOR)["image"])
# T4E's classifier frame for a full chunk (uint8) and a padded chunk (float): zoom then resize 224
save("frame_pipeline_u8", cv2.resize(zoom(image=frame)["image"], (224, 224)))
save("frame_pipeline_f32_channel0", cv2.resize(zoom(image=frame.astype(np.float32))["image"], (224, 224))[:96, :, 0])

# general matrices: rotation + anisotropic scale + shear, forward and inverse maps, other output size
matrix = np.array([[0.91, -0.27, 5.3], [0.33, 1.13, -2.7]], dtype=np.float64)
save("warp_matrix", matrix)
for flags, tag in ((cv2.INTER_LINEAR, "forward"), (cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, "inverse")):
    save(f"warp_{tag}_u8", cv2.warpAffine(small64, matrix, (50, 70), flags=flags,
                                          borderMode=cv2.BORDER_CONSTANT, borderValue=0))
    save(f"warp_{tag}_f32", cv2.warpAffine(small64.astype(np.float32) * FLOAT_FACTOR, matrix, (50, 70),
                                           flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0))

# ---------------------------------------------------------------- crop and pad
save("centrecrop_odd33x17_to9x14", A.CenterCrop(14, 9)(image=odd33x17)["image"])  # height 14, width 9
save("centrecrop_brain240_to224", A.CenterCrop(224, 224)(image=brain)["image"])
save("pad_odd33x17_to40x41", A.PadIfNeeded(41, 40, border_mode=cv2.BORDER_REFLECT_101)(image=odd33x17)["image"])
save("pad_tiny5x7_to30x23", A.PadIfNeeded(23, 30, border_mode=cv2.BORDER_REFLECT_101)(image=tiny5x7)["image"])
save("pad_small64_to71x64", A.PadIfNeeded(64, 71, border_mode=cv2.BORDER_REFLECT_101)(image=small64)["image"])
save("pad_tiny5x7_f32_explicit",
     cv2.copyMakeBorder(tiny5x7.astype(np.float32) * FLOAT_FACTOR, 3, 11, 9, 2, cv2.BORDER_REFLECT_101))

# ---------------------------------------------------------------- .npy reader corner cases
npy_dir = os.path.join(OUT, "npy")
os.makedirs(npy_dir, exist_ok=True)
np.save(os.path.join(npy_dir, "u1_2x3.npy"), np.arange(6, dtype=np.uint8).reshape(2, 3))
np.save(os.path.join(npy_dir, "f4_3d.npy"), (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4))
np.save(os.path.join(npy_dir, "i2_1d.npy"), np.array([-32768, -1, 0, 1, 32767], dtype="<i2"))
np.save(os.path.join(npy_dir, "u2_1d.npy"), np.array([0, 1, 65535, 4096], dtype="<u2"))
np.save(os.path.join(npy_dir, "f8_2x2.npy"), np.array([[1.5, -2.25], [1e300, 5e-324]], dtype="<f8"))
np.save(os.path.join(npy_dir, "f4_scalar.npy"), np.array(7.25, dtype=np.float32))
with open(os.path.join(npy_dir, "f4_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.arange(5, dtype=np.float32), version=(2, 0))
np.save(os.path.join(npy_dir, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.save(os.path.join(npy_dir, "big_endian.npy"), np.arange(3, dtype=">f4"))
np.save(os.path.join(npy_dir, "i4.npy"), np.arange(3, dtype="<i4"))
with open(os.path.join(npy_dir, "f4_3d.npy"), "rb") as f:
    whole = f.read()
with open(os.path.join(npy_dir, "truncated.npy"), "wb") as f:
    f.write(whole[:-5])

# ---------------------------------------------------------------- contours (RETR_TREE, CHAIN_APPROX_NONE)
def shapes64():
    masks = []

    def blank():
        return np.zeros((64, 64), np.uint8)

    m = blank(); masks.append(m)                                                  # empty
    m = blank(); m[10, 20] = 1; m[40, 41] = 255; masks.append(m)                  # one-pixel objects
    m = blank(); cv2.circle(m, (32, 32), 20, 1, 5); masks.append(m)               # ring
    m = blank(); cv2.rectangle(m, (4, 4), (59, 59), 1, -1); cv2.rectangle(m, (12, 12), (51, 51), 0, -1)
    cv2.rectangle(m, (20, 20), (43, 43), 1, -1); cv2.rectangle(m, (28, 28), (35, 35), 0, -1)
    m[31, 31] = 1; masks.append(m)                                                # holes inside holes
    m = blank(); cv2.rectangle(m, (5, 5), (20, 20), 1, -1); cv2.rectangle(m, (21, 21), (30, 30), 1, -1)
    masks.append(m)                                                               # diagonal touch: 8-connected
    m = blank(); cv2.rectangle(m, (5, 5), (20, 20), 1, -1); cv2.rectangle(m, (21, 5), (30, 20), 1, -1)
    masks.append(m)                                                               # side touch: one blob
    m = blank(); m[0:10, 0:10] = 1; m[54:, 30:] = 1; m[20:40, 63] = 1; m[0, 40:50] = 1; masks.append(m)
    m = np.ones((64, 64), np.uint8); masks.append(m)                              # full image
    m = blank(); m[np.arange(5, 50), np.arange(5, 50)] = 1; m[np.arange(10, 40), 60 - np.arange(10, 40)] = 1
    masks.append(m)                                                               # diagonal lines
    m = blank(); m[30, 5:60] = 1; m[5:60, 30] = 1; masks.append(m)                # cross of 1-px lines
    m = blank(); m[::2, ::2] = 1; masks.append(m)                                 # isolated-pixel lattice
    m = blank(); m[::2, :] = 1; m[:, ::3] = 1; masks.append(m)                    # grid with many holes
    m = blank(); cv2.circle(m, (32, 32), 25, 1, -1); cv2.circle(m, (32, 32), 15, 0, -1)
    cv2.circle(m, (32, 32), 8, 1, -1); cv2.circle(m, (32, 32), 3, 0, -1); masks.append(m)  # nested discs
    m = blank(); m[10:12, 10:40] = 1; m[12:30, 38:40] = 1; m[28:30, 10:40] = 1; m[12:28, 10:12] = 1
    m[12:28, 12] = 0; masks.append(m)                                             # thin frame
    m = blank(); m[20:25, 20:25] = 1; m[22, 22] = 0; m[25:30, 25:30] = 1; m[27, 27] = 0; masks.append(m)
    for seed in range(12):                                                        # random and blob masks
        r = np.random.default_rng(100 + seed)
        if seed < 4:
            m = (r.random((64, 64)) < 0.3 + 0.1 * seed).astype(np.uint8)
        else:
            noise = cv2.GaussianBlur(r.random((64, 64)).astype(np.float32), (0, 0), 1.5 + seed * 0.4)
            m = (noise > np.quantile(noise, 0.55 + 0.03 * seed)).astype(np.uint8) * (1 + seed * 20)
        masks.append(m)
    return np.stack(masks)



small_masks = shapes64()
# the large masks are rebuilt by the tests from frame240_u8: brain > 1, WT != 0, ET != 0, brain > 120
large_masks = np.stack([(brain > 1).astype(np.uint8), wt, et, (brain > 120).astype(np.uint8)])
save("contours_small_masks", small_masks)
for tag, masks in (("small", small_masks), ("large", large_masks)):
    table, areas, points = contour_tables(masks)
    save(f"contours_{tag}_table", table)
    save(f"contours_{tag}_areas", areas)
    save(f"contours_{tag}_points", points)

total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
print(f"wrote fixtures to {OUT}: {total / 1e6:.2f} MB")
