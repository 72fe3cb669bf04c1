#!/usr/bin/python3
"""Builds the ingest fixtures in Tests/IngestionTests/Fixtures (Debian's /usr/bin/python3: numpy, pydicom 2.3).

- study/00007/FLAIR: a 16-slice 32x32 FLAIR series from make_study.py (shuffled file names), and the NumPy
  reference of what ingest must make of it, computed here independently of the Swift code:
  expected_float.npy / expected_uint8.npy: InstanceNumber order, T4E's check_empty (> 10 % of pixels > 0),
  series min-max to 0-255 (float64, stored as float32), uint8 truncation;
  expected_crop.json: Borovec's projection crop (kaggle_vol-3D-classify crop_volume) of expected_float at
  several thresholds, as half-open [lower, upper) per axis.
- mixed_sizes/: three files of one series, two of them 32x32 and one 16x16.
"""
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pydicom

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parents[1] / "Tests/IngestionTests/Fixtures"


def borovec_crop(volume, threshold):
    """Per axis: sum over the other two axes / voxel count; first to last index >= threshold (numpy argmax)."""
    ranges = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        high = volume.sum(axis=others, dtype=np.float64) / np.prod(volume.shape) >= threshold
        ranges.append([int(np.argmax(high)), int(len(high) - np.argmax(high[::-1]))])
    return ranges


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    study = OUT / "study"
    subprocess.run([str(HERE / "make_study.py"), "--out", str(study), "--patient", "00007", "--slices", "16",
                    "--size", "32", "--series", "FLAIR", "--seed", "3"], check=True, stdout=subprocess.DEVNULL)
    # Shuffle the Kaggle-style names so that name order and instance order differ.
    folder = study / "00007" / "FLAIR"
    files = sorted(folder.iterdir())
    rng = np.random.default_rng(11)
    for path, number in zip(files, rng.permutation(len(files))):
        path.rename(folder / f"slice{number:03d}.bin")
    datasets = sorted((pydicom.dcmread(p) for p in folder.iterdir()), key=lambda d: int(d.InstanceNumber))
    slices = [d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1))
              + float(getattr(d, "RescaleIntercept", 0)) for d in datasets]
    kept = [s for s in slices if (s > 0).sum() / s.size > 0.1]
    volume = np.stack(kept)
    low, high = volume.min(), volume.max()
    normalised = ((volume - low) / (high - low) * 255).astype(np.float32)
    np.save(OUT / "expected_float.npy", normalised)
    np.save(OUT / "expected_uint8.npy", normalised.astype(np.uint8))
    crops = {str(t): borovec_crop(normalised, t) for t in (1e-6, 0.05, 0.5, 2.0)}
    (OUT / "expected_crop.json").write_text(json.dumps(
        {"slices_total": len(slices), "slices_nonempty": len(kept), "min": float(low), "max": float(high),
         "instance_numbers": [int(d.InstanceNumber) for d, s in zip(datasets, slices) if (s > 0).sum() / s.size > 0.1],
         "crops": crops}, indent=1))

    mixed = OUT / "mixed_sizes"
    mixed.mkdir()
    for index, size in enumerate([32, 32, 16]):
        ds = pydicom.dcmread(datasets[8 + index].filename)
        if size != ds.Rows:
            ds.PixelData = ds.pixel_array[::2, ::2].astype("<u2").tobytes()
            ds.Rows = ds.Columns = size
        ds.save_as(mixed / f"m{index}.dcm")


if __name__ == "__main__":
    main()
