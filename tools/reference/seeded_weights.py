"""Reproducible pseudo-random weights, bit-identical to Swift's `SeededWeights` (Sources/Inference).

For a tensor named `key`: stream = base_seed XOR FNV-1a-64(key as UTF-8). Element i (0-based, row-major) is
z = splitmix64_mix(stream + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64), u = float32(z >> 40) * 2^-24, and
value = low + (high - low) * u in float32 (low and high rounded to float32 first; no fused multiply-add).
"""
import math

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MASK64 = (1 << 64) - 1


def fnv1a64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return h


def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(key: str, count: int, low: float, high: float, base_seed: int) -> np.ndarray:
    stream = np.uint64((base_seed ^ fnv1a64(key)) & MASK64)
    with np.errstate(over="ignore"):
        z = _mix(stream + np.arange(1, count + 1, dtype=np.uint64) * GOLDEN)
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)
    low32, high32 = np.float32(low), np.float32(high)
    span = np.float32(high32 - low32)
    return (low32 + (span * u).astype(np.float32)).astype(np.float32)


def standard_rule(key: str, shape, is_norm: bool, gain: float = 1.0):
    """(low, high) or a constant, as Swift's SeededWeights.standardRule."""
    name = key.split(".")[-1]
    if name == "num_batches_tracked":
        return ("constant", 0.0)
    if name == "running_mean" or name == "bias":
        return ("uniform", -0.1, 0.1)
    if name == "running_var":
        return ("uniform", 0.5, 1.5)
    if name == "weight" and is_norm:
        return ("uniform", 0.8, 1.2)
    fan_in = max(int(np.prod(shape[1:])), 1)
    bound = float(np.float32(gain * math.sqrt(3.0 / fan_in)))
    return ("uniform", -bound, bound)


def seeded_tensor(key: str, shape, rule, base_seed: int) -> np.ndarray:
    count = int(np.prod(shape)) if len(shape) else 1
    if rule[0] == "constant":
        return np.full(shape, rule[1], dtype=np.float32)
    return uniform(key, count, rule[1], rule[2], base_seed).reshape(shape)


def norm_modules(state_dict) -> set:
    """Module prefixes of batch norms (those with a running_mean)."""
    return {k[: -len(".running_mean")] for k in state_dict if k.endswith(".running_mean")}


def seeded_state_dict(model, base_seed: int, gain_for=lambda key: 1.0):
    """Fills every tensor of `model`'s state_dict (in place) by the standard rule; returns the state_dict."""
    import torch

    state = model.state_dict()
    norms = norm_modules(state)
    filled = {}
    for key, value in state.items():
        prefix = key.rsplit(".", 1)[0]
        rule = standard_rule(key, list(value.shape), prefix in norms, gain_for(key))
        array = seeded_tensor(key, list(value.shape), rule, base_seed)
        filled[key] = torch.from_numpy(array).to(value.dtype)
    model.load_state_dict(filled)
    return model.state_dict()
