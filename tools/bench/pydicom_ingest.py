#!/usr/bin/python3
"""The pydicom side of scripts/bench-ingest.sh: what `ingest run` does to one series folder, in NumPy.

Reads every file in SERIES_DIR with pydicom, orders by InstanceNumber, drops empty slices (T4E check_empty:
> 10 % of pixels > 0), min-max normalises the kept slices to 0-255 (float32) and truncates to uint8, and saves
both arrays as .npy to OUT_DIR. Prints "<slices> <seconds>".
usage: pydicom_ingest.py SERIES_DIR OUT_DIR
"""
import os
import sys
import time

import numpy as np
import pydicom


def main():
    series_dir, out_dir = sys.argv[1], sys.argv[2]
    start = time.perf_counter()
    datasets = [pydicom.dcmread(os.path.join(series_dir, name)) for name in os.listdir(series_dir)]
    datasets.sort(key=lambda d: int(d.InstanceNumber))
    slices = [d.pixel_array for d in datasets]
    kept = np.stack([s for s in slices if (s > 0).sum() / s.size > 0.1])
    low, high = kept.min(), kept.max()
    image = ((kept - low) / (high - low) * 255).astype(np.float32)
    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "image_float.npy"), image)
    np.save(os.path.join(out_dir, "image_uint8.npy"), image.astype(np.uint8))
    print(len(slices), time.perf_counter() - start)


if __name__ == "__main__":
    main()
