"""Parity fixtures for the 3D classifier (Tests/VolumeClassificationTests/Fixtures), at S = 64.

usage: "$(scripts/reference-python.sh)" tools/reference/cls3d_fixtures.py [OUT_DIR]

No weights are committed: both sides build MONAI's resnet from seeded_weights (base seed BASE_SEED of
cls3d_reference.py, the standard value ranges). Writes
- parity.safetensors  the phantom series (raw values, (slices, rows, columns)), every SAMPLE_STRIDE-th value of
                      the preprocessed cube with and without the crop, and the logits of the cases below; its
                      metadata holds the cases' configurations, the crop's ranges and NumPy's QUANTILES (repr).
- manifest.json       MONAI resnet18's and resnet34's state_dict keys and shapes.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cls3d_reference as ref  # noqa: E402

SIZE = 64
SAMPLE_STRIDE = 7
# NumPy's quantiles of the phantom checked on the Swift side: the baseline's two, and some that interpolate.
QUANTILES = (0.01, 0.99, 0.8, 0.85, 0.999)
PHANTOM_SHAPE = (20, 48, 44)
CASES = [
    ("default", ref.configuration(size=SIZE)),
    ("stem_1_2_2", ref.configuration(size=SIZE, stem_stride=[1, 2, 2])),
    ("no_crop", ref.configuration(size=SIZE, crop_threshold=None)),
    ("resnet34", ref.configuration(size=SIZE, depth=34)),
]


def main(out):
    os.makedirs(out, exist_ok=True)
    raw = ref.phantom(*PHANTOM_SHAPE)
    tensors = {"phantom": raw}
    logits = []
    for name, config in CASES:
        cube = ref.preprocess(raw, config)
        if name in ("default", "no_crop"):
            tensors[f"cube.{name}"] = cube.numpy().reshape(-1)[::SAMPLE_STRIDE].copy()
        logits.append(ref.logit(ref.build_model(config), cube))
        print(f"{name}: logit {logits[-1]:.6f}", file=sys.stderr)
    tensors["logits"] = np.array(logits, dtype=np.float32)
    stacked = torch.tensor(np.ascontiguousarray(raw.transpose(0, 2, 1)))
    first = ref.trilinear(ref.quantile_normalise(stacked, 0.01, 0.99).permute(2, 1, 0), SIZE)
    metadata = {
        "cases": json.dumps([{"name": n, "configuration": c} for n, c in CASES]),
        "sample_stride": str(SAMPLE_STRIDE),
        "crop": json.dumps([[s.start, s.stop] for s in ref.crop_slices(first, 1e-6)]),
        "quantiles": json.dumps([repr(float(np.quantile(stacked, q))) for q in QUANTILES]),
        "seed": str(ref.BASE_SEED),
    }
    save_file(tensors, os.path.join(out, "parity.safetensors"), metadata=metadata)
    manifest = {}
    for depth in (18, 34):
        model = ref.build_model(ref.configuration(depth=depth))
        manifest[str(depth)] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=0)
    print(json.dumps({"logits": logits, "crop": metadata["crop"], "quantiles": metadata["quantiles"]}))


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../Tests/VolumeClassificationTests/Fixtures"))
