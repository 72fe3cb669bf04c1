"""Parity fixtures for the UNet++/DenseNet121 segmentation model and its stage (Tests/SegmentationTests/Fixtures).

Weights are seeded (tools/reference/seeded_weights.py, base seed 2021, gains below), so only inputs, expected
outputs and the key/shape manifest are committed. Run: "$(scripts/reference-python.sh)" tools/reference/seg_fixtures.py
"""
import json
import pathlib
import sys

import albumentations as A
import cv2
import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seeded_weights import seeded_state_dict, uniform  # noqa: E402

BASE_SEED = 2021
FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "Tests/SegmentationTests/Fixtures"


def conv_gain(key: str) -> float:
    """Gains that keep activations of the random network in a useful range (He-like for ReLU convs; the head
    smaller so that the sigmoid outputs straddle 0.5). Swift's UNetPlusPlus.seededGain is the same table."""
    if key.startswith("segmentation_head"):
        return 0.5
    return 2.0 ** 0.5


def build_model(seed=BASE_SEED):
    from segmentation_models_pytorch import UnetPlusPlus

    model = UnetPlusPlus(encoder_name="densenet121", encoder_depth=5, encoder_weights=None, classes=2,
                         activation="sigmoid")
    seeded_state_dict(model, seed, conv_gain)
    return model.eval()


def phantom_slice(height: int, width: int, phase: float = 0.0) -> np.ndarray:
    """A brain-like slice, values 0..255 as float (ingest's image_float): dark background, bright skull ring,
    grey/white matter texture, dark ventricles and a bright ring-enhancing tumour."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = height / 2, width / 2
    r = np.sqrt(((y - cy) / (0.42 * height)) ** 2 + ((x - cx) / (0.36 * width)) ** 2)
    img = np.zeros((height, width))
    img[r < 1.0] = 230.0  # skull
    brain = r < 0.9
    texture = 120 + 25 * np.sin(x / 6.0 + phase) * np.cos(y / 7.0) + 10 * np.sin((x + y) / 3.0)
    img[brain] = texture[brain]
    vent = ((y - cy) / (0.12 * height)) ** 2 + ((x - cx) / (0.05 * width)) ** 2 < 1
    img[vent] = 40.0
    ty, tx = cy - 0.15 * height, cx + 0.15 * width + 4 * phase
    t = np.sqrt((y - ty) ** 2 + (x - tx) ** 2) / (0.11 * min(height, width))
    img[t < 1.0] = 200.0
    img[t < 0.6] = 90.0
    img = img / img.max() * 255.0
    return img.astype(np.float32)


def preprocess(slice_float: np.ndarray) -> np.ndarray:
    """T4E's segmentation transform (inference_on_test.py get_transform), on the float64 voxels it uses."""
    image = np.stack([slice_float.astype(np.float64)] * 3, axis=-1)
    transform = A.Compose([A.Resize(width=268, height=268, always_apply=True),
                           A.CenterCrop(width=224, height=224, always_apply=True), A.Normalize()])
    return np.ascontiguousarray(transform(image=image)["image"].transpose(2, 0, 1), dtype=np.float32)


def postprocess(mask224: np.ndarray, width: int, height: int) -> np.ndarray:
    """T4E's inverse transform (get_inv_transform) of one uint8 mask."""
    inverse = A.Compose([A.PadIfNeeded(min_height=268, min_width=268, always_apply=True),
                         A.Resize(width=width, height=height, always_apply=True)])
    return inverse(image=mask224)["image"]


def main():
    torch.set_num_threads(2)
    model = build_model()
    state = model.state_dict()
    manifest = [{"key": k, "shape": list(v.shape)} for k, v in state.items()]
    (FIXTURES / "unetplusplus_densenet121.manifest.json").write_text(json.dumps(manifest, indent=0) + "\n")
    print(f"{len(manifest)} keys, {sum(int(np.prod(v.shape)) for v in state.values() if v.dtype == torch.float32)} parameters")

    # Model parity: two seeded inputs (recreated by the Swift test) and a preprocessed phantom slice.
    inputs = [uniform(f"input.{i}", 3 * 224 * 224, -2.0, 2.0, BASE_SEED).reshape(3, 224, 224) for i in range(2)]
    phantom = phantom_slice(240, 240)
    inputs.append(preprocess(phantom))
    with torch.no_grad():
        outputs = model(torch.from_numpy(np.stack(inputs))).numpy()
    for i, o in enumerate(outputs):
        print(f"input {i}: output mean {o.mean():.3f}, min {o.min():.3f}, max {o.max():.3f}, >0.5 {np.mean(o > 0.5):.3f}")
    save_file({"phantom_slice": phantom, "phantom_input": inputs[2], "outputs": outputs}, str(FIXTURES / "model_parity.safetensors"))

    # Stage parity: a small series of non-square slices through T4E's pre-processing, model, threshold and
    # inverse transform.
    height, width = 150, 182
    series = np.stack([phantom_slice(height, width, phase) for phase in (0.0, 1.0, 2.5)])
    batch = np.stack([preprocess(s) for s in series])
    with torch.no_grad():
        probabilities = model(torch.from_numpy(batch)).numpy()
    masks224 = (probabilities > 0.5).astype("uint8")
    masks = np.stack([[postprocess(m[c], width, height) for c in range(2)] for m in masks224]).astype(np.uint8)
    ambiguous = np.abs(probabilities - 0.5) <= 1e-4
    print(f"stage: masks {masks.shape}, ones {masks.mean():.3f}, ambiguous pixels {int(ambiguous.sum())}")
    save_file({"series": series, "masks": masks, "masks224": masks224,
               "ambiguous224_indices": np.flatnonzero(ambiguous).astype(np.int64)},
              str(FIXTURES / "stage_parity.safetensors"))


if __name__ == "__main__":
    main()
