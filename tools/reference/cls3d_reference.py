"""The 3D classifier's reference: J. Borovec's baseline inference (kaggle_brain3d at 1c13ddd, MONAI >= 0.9), rebuilt
from the method in issue 11 on NumPy 1.24 / PyTorch 1.13 / MONAI 1.4, plus the seeded network and phantom volumes
that the parity fixtures and the benchmark share with Swift (Sources/VolumeClassification).

The tensor layouts follow the baseline's so that PyTorch runs the same kernels: the slices are stacked transposed
(a contiguous (slices, columns, rows) tensor), normalised there, and viewed as (rows, columns, slices) with `.T`.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seeded_weights  # noqa: E402

BASE_SEED = 0x5EED_3D00
DEFAULTS = {"size": 224, "quantiles": [0.01, 0.99], "crop_threshold": 1e-6, "mean": 0.093, "std": 0.214,
            "stem_stride": [1, 1, 1], "depth": 18}


def configuration(**overrides):
    config = dict(DEFAULTS)
    config.update(overrides)
    return config


def build_model(config, seed=BASE_SEED):
    """MONAI's resnet18/34(spatial_dims=3, n_input_channels=1, num_classes=1) with seeded weights by the standard
    rule (Swift: SeededWeightSource's default), in eval mode. With those ranges the phantom's logits are a few
    units, where float32 keeps 1e-4 absolute."""
    from monai.networks.nets import resnet18, resnet34

    constructor = {18: resnet18, 34: resnet34}[config["depth"]]
    stride = tuple(config["stem_stride"])
    model = constructor(spatial_dims=3, n_input_channels=1, num_classes=1,
                        conv1_t_stride=stride if stride != (1, 1, 1) else 1)
    seeded_weights.seeded_state_dict(model, seed)
    return model.eval()


def quantile_normalise(stacked: torch.Tensor, low_q: float, high_q: float) -> torch.Tensor:
    """(v - q_low) / (q_high - q_low) with NumPy's linear quantiles over the whole volume, unclipped."""
    low = np.quantile(stacked, low_q)
    high = np.quantile(stacked, high_q)
    return (stacked - low) / (high - low)


def trilinear(volume: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(volume[None, None], size=(size, size, size), mode="trilinear", align_corners=False)[0, 0]


def crop_slices(volume: torch.Tensor, threshold: float):
    """The projection crop's slice per axis: the sum over the other two axes / the voxel count; from the first
    index >= threshold to one past the last; the whole axis if none passes."""
    count = np.prod(volume.shape)
    kept = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        projection = (torch.sum(torch.sum(volume, others[1]), others[0]) / count).numpy()
        high = projection >= threshold
        kept.append(slice(int(np.argmax(high)), len(high) - int(np.argmax(high[::-1]))))
    return kept


def projection_crop(volume: torch.Tensor, threshold: float) -> torch.Tensor:
    kept = crop_slices(volume, threshold)
    return volume[kept[0], kept[1], kept[2]]


def preprocess(raw: np.ndarray, config) -> torch.Tensor:
    """raw: (slices, rows, columns) float32 -> the network's (rows, columns, slices) cube of config['size']."""
    # The baseline stacks each slice's pixel array transposed: a contiguous (slices, columns, rows) tensor.
    stacked = torch.tensor(np.ascontiguousarray(raw.transpose(0, 2, 1)), dtype=torch.float32)
    volume = quantile_normalise(stacked, *config["quantiles"]).permute(2, 1, 0)  # the baseline's .T
    volume = trilinear(volume, config["size"])
    if config["crop_threshold"] is not None:
        volume = projection_crop(volume, config["crop_threshold"])
    volume = trilinear(volume, config["size"])
    return (volume - config["mean"]) / config["std"]


def logit(model, cube: torch.Tensor) -> float:
    with torch.no_grad():
        return float(model(cube[None, None])[0, 0])


def phantom(slices: int, rows: int, columns: int, seed: int = 7) -> np.ndarray:
    """A brain-like MRI series of raw values, (slices, rows, columns) float32: zero background, an ellipsoid head
    with a brighter rim, a darker core, a bright off-centre lesion and seeded noise, none of it touching the edges
    (so the projection crop cuts every axis)."""
    z, y, x = np.meshgrid(np.linspace(-1, 1, slices), np.linspace(-1, 1, rows), np.linspace(-1, 1, columns),
                          indexing="ij")
    r = np.sqrt((z / 0.75) ** 2 + (y / 0.8) ** 2 + (x / 0.7) ** 2)
    noise = seeded_weights.uniform("phantom.noise", slices * rows * columns, 0.0, 1.0, seed).reshape(r.shape)
    volume = np.where(r < 1, 400 + 300 * np.exp(-((r - 0.9) / 0.08) ** 2) - 150 * np.exp(-(r / 0.35) ** 2), 0.0)
    lesion = np.sqrt((z - 0.2) ** 2 + (y + 0.25) ** 2 + (x - 0.3) ** 2)
    volume = volume + np.where(lesion < 0.2, 500.0, 0.0) + np.where(r < 1, 60 * noise, 0.0)
    return np.round(volume).astype(np.float32)
