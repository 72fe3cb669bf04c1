#!/usr/bin/env python3
"""Side-by-side timing of the Imaging operations and OpenCV 4.8.1 on a 240×240 slice, one thread each.

    swift build -c release --product ImagingBenchmark
    "$(scripts/reference-python.sh)" tools/reference/bench_imaging.py [ROUNDS]

Times are thread CPU time (the machine is shared). Alternates OpenCV and the Swift binary ROUNDS times (default 3) so both see the same machine load, and
prints the median per-call time of each (µs) and the ratio OpenCV/Swift (> 1: Swift is faster).
"""
import os
import subprocess
import sys
import time

import albumentations as A
import cv2
import numpy as np

cv2.setNumThreads(1)
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
REPS = 200
BINARY = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "ImagingBenchmark")

# Same slice as Sources/ImagingBenchmark/main.swift: textured ellipse, 0 outside.
img = np.zeros((240, 240), np.uint8)
state = 0x9E3779B97F4A7C15
for y in range(240):
    for x in range(240):
        dy, dx = (y - 120) / 100, (x - 120) / 86
        if dx * dx + dy * dy >= 1:
            continue
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        img[y, x] = 60 + (state >> 57) + (x + y) % 64
floats = img.astype(np.float32) * np.float32(1.0079)
mask = (img > 1).astype(np.uint8)
zoom = A.Affine(scale=1.2, p=1.0).get_params_dependent_on_targets({"image": img})["matrix"].params[:2]
pad = A.PadIfNeeded(268, 268, border_mode=cv2.BORDER_REFLECT_101)

ops = {
    "resize_u8_240_to_268": lambda: cv2.resize(img, (268, 268), interpolation=cv2.INTER_LINEAR),
    "resize_f32_240_to_268": lambda: cv2.resize(floats, (268, 268), interpolation=cv2.INTER_LINEAR),
    "resize_u8_268_to_240": lambda: cv2.resize(pad(image=img)["image"], (240, 240), interpolation=cv2.INTER_LINEAR),
    "zoom_u8_240": lambda: cv2.warpAffine(img, zoom, (240, 240), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT),
    "zoom_f32_240": lambda: cv2.warpAffine(floats, zoom, (240, 240), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT),
    "find_contours_240": lambda: cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE),
}


def median_us(fn):
    times = []
    for _ in range(REPS):
        start = time.thread_time_ns()
        fn()
        times.append((time.thread_time_ns() - start) / 1000)
    return sorted(times)[REPS // 2]


opencv = {name: [] for name in ops}
swift = {name: [] for name in ops}
for _ in range(ROUNDS):
    for name, fn in ops.items():
        opencv[name].append(median_us(fn))
    output = subprocess.run([BINARY, str(REPS)], check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        name, value = line.split()
        swift[name].append(float(value))

print(f"{'operation':24} {'OpenCV µs':>10} {'Swift µs':>10} {'OpenCV/Swift':>13}")
for name in ops:
    o, s = sorted(opencv[name])[ROUNDS // 2], sorted(swift[name])[ROUNDS // 2]
    print(f"{name:24} {o:10.1f} {s:10.1f} {o / s:13.2f}")
print(f"(load average at end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
