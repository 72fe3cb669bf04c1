#!/usr/bin/env python3
"""Random masks and their cv2.findContours(RETR_TREE, CHAIN_APPROX_NONE) results, for a stress run.

    "$(scripts/reference-python.sh)" tools/reference/contour_stress.py /tmp/contour-stress 1
    IMAGING_CONTOUR_STRESS=/tmp/contour-stress swift test -c release --skip-build --filter ContourTests

Writes 400 masks of 48×48 (noise, blurred blobs, drawn circles and rings, opened noise) in the same
layout as the committed contour fixtures; the seed picks the set. Not needed by CI.
"""
import os
import sys

import cv2
import numpy as np

from contour_tables import contour_tables

cv2.setNumThreads(1)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(int(sys.argv[2]))
masks = []
for i in range(400):
    h, w = 48, 48
    kind = i % 4
    if kind == 0:
        m = (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
    elif kind == 1:
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.7, 3))
        m = (noise > np.quantile(noise, rng.uniform(0.2, 0.9))).astype(np.uint8)
    elif kind == 2:
        m = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(1, 8)):
            cv2.circle(m, tuple(int(v) for v in rng.integers(0, 48, 2)), int(rng.integers(1, 20)), int(rng.integers(0, 2)), int(rng.choice([-1, 1, 2, 3])))
    else:
        m = (rng.random((h, w)) < 0.5).astype(np.uint8)
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    masks.append(m)
masks = np.stack(masks)
table, areas, points = contour_tables(masks)
np.save(out + "/contours_small_masks.npy", masks)
np.save(out + "/contours_small_table.npy", table)
np.save(out + "/contours_small_areas.npy", areas)
np.save(out + "/contours_small_points.npy", points)
print(len(table), "contours")
