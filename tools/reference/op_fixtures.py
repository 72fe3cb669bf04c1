"""Fixtures for the engine's op tests (Tests/InferenceTests/Fixtures/ops.safetensors), computed by PyTorch.
Run: "$(scripts/reference-python.sh)" tools/reference/op_fixtures.py"""
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

from seeded_weights import uniform

out = {}
rng = np.random.default_rng(7)


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# Convolutions: (name, N, Cin, H, W, Cout, kernel, stride, padding, dilation, groups, bias)
convs = [
    ("conv_3x3_s1_p1", 2, 5, 9, 11, 7, (3, 3), 1, 1, 1, 1, True),
    ("conv_3x3_s2_p1_odd", 1, 4, 13, 9, 6, (3, 3), 2, 1, 1, 1, False),
    ("conv_7x7_s2_p3", 1, 3, 17, 15, 8, (7, 7), 2, 3, 1, 1, False),
    ("conv_1x1", 2, 16, 5, 7, 12, (1, 1), 1, 0, 1, 1, True),
    ("conv_1x1_s2", 1, 6, 9, 9, 4, (1, 1), 2, 0, 1, 1, True),
    ("conv_grouped", 1, 8, 10, 10, 12, (3, 3), 1, 1, 1, 4, True),
    ("conv_depthwise_s2", 1, 6, 11, 8, 6, (3, 3), 2, 1, 1, 6, True),
    ("conv_dilated", 1, 3, 12, 14, 5, (3, 3), 1, 2, 2, 1, True),
    ("conv_rect", 1, 3, 10, 12, 4, (3, 5), (2, 1), (1, 2), 1, 1, True),
    ("conv_no_pad_big_kernel", 1, 2, 6, 6, 3, (5, 5), 1, 0, 1, 1, False),
    # Winograd F(4x4, 3x3) path: many channels, partial tiles on both axes, and a 7x7 map.
    ("conv_3x3_winograd_wide", 2, 64, 13, 10, 48, (3, 3), 1, 1, 1, 1, True),
    ("conv_3x3_winograd_7x7", 1, 96, 7, 7, 32, (3, 3), 1, 1, 1, 1, False),
]
for name, n, cin, h, w, cout, k, s, p, d, g, bias in convs:
    x = rand(n, cin, h, w)
    wt = rand(cout, cin // g, *k) * 0.3
    b = rand(cout) if bias else None
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), None if b is None else torch.from_numpy(b), s, p, d, g)
    out[f"{name}.x"], out[f"{name}.w"], out[f"{name}.y"] = x, wt, y.numpy()
    if b is not None:
        out[f"{name}.b"] = b

# Conv followed by batch norm (folded on the Swift side) and ReLU.
x, wt = rand(2, 4, 8, 8), rand(6, 4, 3, 3) * 0.3
bn = torch.nn.BatchNorm2d(6).eval()
bn.weight.data, bn.bias.data = torch.from_numpy(rand(6)), torch.from_numpy(rand(6))
bn.running_mean.data, bn.running_var.data = torch.from_numpy(rand(6)), torch.from_numpy(np.abs(rand(6)) + 0.5)
y = F.relu(bn(F.conv2d(torch.from_numpy(x), torch.from_numpy(wt), None, 1, 1)))
out.update({"bnfold.x": x, "bnfold.w": wt, "bnfold.y": y.detach().numpy(), "bnfold.gamma": bn.weight.detach().numpy(),
            "bnfold.beta": bn.bias.detach().numpy(), "bnfold.mean": bn.running_mean.numpy(), "bnfold.var": bn.running_var.numpy()})

# Batch norm alone (DenseNet's pre-activation BN + ReLU), same parameters, odd plane size.
bx = rand(2, 6, 5, 3)
out["bn.x"], out["bn.y"] = bx, F.relu(bn(torch.from_numpy(bx))).detach().numpy()

# Activations on a range with large magnitudes.
a = np.concatenate([np.linspace(-20, 20, 401, dtype=np.float32), rand(99) * 3])
t = torch.from_numpy(a)
out.update({"act.x": a, "act.relu": F.relu(t).numpy(), "act.silu": F.silu(t).numpy(), "act.gelu": F.gelu(t).numpy(),
            "act.sigmoid": torch.sigmoid(t).numpy()})

# Pools: (name, H, W, kernel, stride, padding, ceil, count_include_pad)
pools = [
    ("maxpool_3_2_1", 24, 24, 3, 2, 1, False, True),
    ("maxpool_3_2_1_odd", 9, 7, 3, 2, 1, False, True),
    ("maxpool_3_2_0_ceil", 8, 11, 3, 2, 0, True, True),
    ("maxpool_2_2_ceil", 7, 5, 2, 2, 0, True, True),
    ("avgpool_2_2", 8, 6, 2, 2, 0, False, True),
    ("avgpool_2_2_ceil_nopad", 7, 9, 2, 2, 0, True, False),
    ("avgpool_3_2_1_incl", 9, 8, 3, 2, 1, False, True),
    ("avgpool_3_2_1_excl", 9, 8, 3, 2, 1, False, False),
    ("avgpool_3_2_1_ceil_incl", 10, 7, 3, 2, 1, True, True),
]
for name, h, w, k, s, p, ceil, incl in pools:
    x = rand(2, 3, h, w)
    tx = torch.from_numpy(x)
    if name.startswith("max"):
        y = F.max_pool2d(tx, k, s, p, ceil_mode=ceil)
    else:
        y = F.avg_pool2d(tx, k, s, p, ceil_mode=ceil, count_include_pad=incl)
    out[f"{name}.x"], out[f"{name}.y"] = x, y.numpy()

x = rand(2, 3, 5, 7)
out["gap.x"], out["gap.y"] = x, F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()
out["up.x"], out["up.y"] = x, F.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest").numpy()
x2 = rand(2, 4, 5, 7)
out["cat.a"], out["cat.b"], out["cat.y"] = x, x2, torch.cat([torch.from_numpy(x), torch.from_numpy(x2)], 1).numpy()
lx, lw, lb = rand(3, 2, 10), rand(7, 10), rand(7)
out.update({"linear.x": lx, "linear.w": lw, "linear.b": lb,
            "linear.y": F.linear(torch.from_numpy(lx), torch.from_numpy(lw), torch.from_numpy(lb)).numpy()})

# Seeded-weights agreement: a few values per (key, range).
out["seeded.a"] = uniform("encoder.features.conv0.weight", 16, -0.25, 0.25, 2021)
out["seeded.b"] = uniform("decoder.blocks.x_0_0.conv1.1.running_var", 16, 0.5, 1.5, 2021)
out["seeded.c"] = uniform("x", 16, -1.0, 1.0, 0xFFFFFFFFFFFFFFFF)

path = pathlib.Path(__file__).resolve().parents[2] / "Tests/InferenceTests/Fixtures/ops.safetensors"
save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, str(path))
print(f"wrote {len(out)} tensors to {path}")
