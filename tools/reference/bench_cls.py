"""PyTorch side of scripts/bench-cls.sh (the reference stack: scripts/reference-python.sh).

  bench_cls.py prepare OUT              synthetic study OUT/study (one T2w series, 240×240, KEPT kept slices) and
                                        OUT/models/classifier-T2w.safetensors (seeded weights, as the fixtures)
  bench_cls.py backbone THREADS BATCH   frames/s of timm's eca_nfnet_l0 at 224×224 (best of 3 batches)
  bench_cls.py series OUT THREADS       seconds for the reference pipeline on OUT/study (backbone per chunk)
Each command prints one JSON line.
"""
import json
import os
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cls_fixtures  # noqa: E402
import cls_reference as ref  # noqa: E402
from seeded_weights import uniform  # noqa: E402

KEPT = 120
SIZE = 240


def bench_series():
    """KEPT slices that all pass the selection, each with its own tumour outline."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    rng = np.random.default_rng(11)
    images = np.zeros((KEPT, SIZE, SIZE), np.uint8)
    masks = np.zeros((KEPT, 2, SIZE, SIZE), np.uint8)
    for i in range(KEPT):
        inside = ((yy - 120) / 95) ** 2 + ((xx - 120) / 80) ** 2 <= 1
        texture = 70 + 60 * np.sin(xx / 9 + i / 11) ** 2 + 30 * np.cos(yy / 7) + rng.normal(0, 10, (SIZE, SIZE))
        images[i] = np.where(inside, np.clip(texture, 2, 255), 0).astype(np.uint8)
        r = 18 + i % 15
        cv2.ellipse(masks[i, 0], (110 + i % 9, 100), (r + 6, r), 7 * i, 0, 360, 1, -1)
        cv2.ellipse(masks[i, 1], (110 + i % 9, 100), (r // 2, r // 3), 0, 0, 360, 1, -1)
        assert ref.selection(images[i], masks[i, 0])["keep"]
    return images, masks


def prepare(out):
    from safetensors.torch import save_file
    images, masks = bench_series()
    series = f"{out}/study/T2w"
    os.makedirs(series, exist_ok=True)
    np.save(f"{series}/image_uint8.npy", images)
    np.save(f"{series}/masks.npy", masks)
    cls_fixtures.write_json(f"{series}/series.json", cls_fixtures.series_json(
        "bench", "T2w", images.shape, list(range(1, KEPT + 1)), slices_total=KEPT))
    cls_fixtures.write_json(f"{out}/study/study.json", cls_fixtures.study_json("bench", "T2w", KEPT))
    os.makedirs(f"{out}/models", exist_ok=True)
    state = {k: v.contiguous() for k, v in cls_fixtures.seeded_model().state_dict().items()}
    save_file(state, f"{out}/models/classifier-T2w.safetensors")
    print(json.dumps({"prepared": out, "kept": KEPT}))


def backbone(threads, batch):
    torch.set_num_threads(threads)
    model = cls_fixtures.seeded_model().backbone
    # The Swift and ONNX Runtime benchmarks' input (seeded_weights.uniform, key "bench.frames").
    x = torch.from_numpy(uniform("bench.frames", batch * 3 * 224 * 224, -2.0, 2.5, 1).reshape(batch, 3, 224, 224))
    best = float("inf")
    with torch.no_grad():
        model(x[:2])  # warm-up
        for _ in range(3):
            start = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - start)
    print(json.dumps({"engine": "pytorch", "threads": threads, "batch": batch, "seconds": best, "fps": batch / best}))


def series(out, threads):
    torch.set_num_threads(threads)
    model = cls_fixtures.seeded_model()
    images = np.load(f"{out}/study/T2w/image_uint8.npy")
    masks = np.load(f"{out}/study/T2w/masks.npy")
    start = time.perf_counter()
    kept = [i for i in range(len(images)) if ref.selection(images[i], masks[i, 0])["keep"]]
    frames = [ref.frame(images[i], masks[i, 0], masks[i, 1]) for i in kept]
    probabilities = ref.classify_series(model, frames, "zoom")
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": "pytorch-reference", "threads": threads, "kept": len(kept),
                      "chunks": len(probabilities), "seconds": seconds,
                      "probability": float(np.mean(probabilities))}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "prepare":
        prepare(sys.argv[2])
    elif command == "backbone":
        backbone(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "series":
        series(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
