"""ONNX Runtime side of scripts/bench-seg.sh and scripts/bench-cls.sh, on the models tools/reference/export_onnx.py
wrote. Runs in the onnxruntime venv (scripts/onnxruntime-python.sh: onnxruntime and numpy, no PyTorch).

  bench_ort.py check DIR                        both models' outputs against PyTorch's on the export's check input
  bench_ort.py seg DIR THREADS BATCH BATCHES    UNet++ slices/s: one warm-up batch, then BATCHES timed batches
  bench_ort.py cls DIR THREADS BATCH            ECA-NFNet-L0 frames/s, best of 3 batches after one warm-up
  bench_ort.py profile DIR MODEL THREADS BATCH  per-node times of one batch (enable_profiling), summed by layer kind
  bench_ort.py cls3d DIR SIZE THREADS VOLUMES   the 3D classifier's network (bench_cls3d.py prepare's export) on the
                                                reference's preprocessed cube: best time of VOLUMES runs, its logit
                                                against PyTorch's
Each command prints one JSON line. Inputs are the Swift benchmarks' seeded ones (seeded_weights.uniform).
"""
import collections
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seeded_weights import uniform  # noqa: E402  (numpy only)

SIDE = 224
GFLOP = {"segmentation": 84.5, "eca_nfnet_l0": 8.5}  # per image at 224² (PLATFORM-NOTES)


def session(directory, model, threads, profile_prefix=None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(os.path.join(directory, model + ".onnx"), options, providers=["CPUExecutionProvider"])


def frames(key, batch, low, high):
    return uniform(key, batch * 3 * SIDE * SIDE, low, high, 1).reshape(batch, 3, SIDE, SIDE)


def peak_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(directory):
    result = {}
    for model in GFLOP:
        x = np.load(os.path.join(directory, model + ".check-input.npy"))
        expected = np.load(os.path.join(directory, model + ".check-output.npy"))
        (y,) = session(directory, model, 1).run(None, {"input": x})
        error = float(np.max(np.abs(y - expected)) / max(1e-12, float(np.max(np.abs(expected)))))
        result[model] = {"max_relative_error": error}
        if error > 1e-3:
            sys.exit(f"{model}: ONNX Runtime differs from PyTorch by {error:.2e} (relative to the largest output)")
    print(json.dumps({"engine": "onnxruntime " + ort.__version__, "check": result}))


def seg(directory, threads, batch, batches):
    s = session(directory, "segmentation", threads)
    x = frames("bench.input", batch, -2.0, 2.0)
    s.run(None, {"input": x})
    start = time.perf_counter()
    for _ in range(batches):
        s.run(None, {"input": x})
    rate = batch * batches / (time.perf_counter() - start)
    print(json.dumps({"engine": "onnxruntime", "version": ort.__version__, "threads": threads, "batch": batch,
                      "batches": batches, "slices_per_second": rate, "gflops": rate * GFLOP["segmentation"],
                      "peak_memory_mb": peak_memory_mb()}))


def cls(directory, threads, batch):
    s = session(directory, "eca_nfnet_l0", threads)
    x = frames("bench.frames", batch, -2.0, 2.5)
    s.run(None, {"input": x})
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        s.run(None, {"input": x})
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"engine": "onnxruntime", "version": ort.__version__, "threads": threads, "batch": batch,
                      "seconds": best, "fps": batch / best, "peak_memory_mb": peak_memory_mb()}))


def layer_kind(op, name, model):
    """The profile table's rows, as the Swift models' LayerKind names them. Node names are torch.onnx's module
    paths (e.g. /stages/stages.2/stages.2.1/conv2/Conv_output_0_nchwc); ONNX Runtime folds the weight
    standardisation into constants and SiLU into QuickGelu, and runs convolutions in its blocked (NCHWc) layout,
    whose Reorder nodes count as memory."""
    if model == "eca_nfnet_l0":
        if "/stem/" in name:
            return "stem"
        if "/attn_last/" in name:
            return "ECA"
        if op in ("Conv", "FusedConv"):
            return "grouped 3x3 conv" if "/conv2/" in name or "/conv2b/" in name else "1x1 conv"
        if op in ("QuickGelu", "Sigmoid", "Mul", "Add"):
            return "activations and residuals"
        if op in ("AveragePool", "GlobalAveragePool"):
            return "pooling"
    elif model == "segmentation":
        return segmentation_kind(op, name)
    return "memory and other"


# UNet++ decoder blocks x_<depth>_<layer> run at 14·2^layer (224² input); the head at 224.
DECODER_SIDE = {str(layer): 14 << layer for layer in range(5)}


def segmentation_kind(op, name):
    """UNetPlusPlus.LayerKind's rows. ONNX Runtime fuses each dense layer's norm2+ReLU into its 1×1 convolution
    (node .../relu2/Relu) and turns the norm1 BatchNormalization+ReLU into a Conv node of its own."""
    if op not in ("Conv", "FusedConv"):
        return "memory and other"
    if "/segmentation_head/" in name or name.startswith("logits"):  # the head's conv is named after the output
        return "head"
    if "/decoder/" in name:
        block = name.split("/decoder/")[1].split("/")[0]  # x_<depth>_<layer>
        side = DECODER_SIDE[block.split("_")[2]]
        return f"decoder 3x3 conv {side}x{side}"
    if "/relu0/" in name or "/conv0/" in name:
        return "stem"
    if "/denselayer" in name:
        if "/norm1/" in name:
            return "encoder BN+ReLU"
        return "encoder 3x3 conv" if "/conv2/" in name else "encoder 1x1 conv"
    return "transitions"


def profile(directory, model, threads, batch):
    prefix = os.path.join(tempfile.mkdtemp(), "ort")
    s = session(directory, model, threads, prefix)
    x = frames("bench.input", batch, -2.0, 2.0) if model == "segmentation" else frames("bench.frames", batch, -2.0, 2.5)
    s.run(None, {"input": x})  # warm-up, dropped below
    s.run(None, {"input": x})
    events = json.load(open(s.end_profiling()))
    runs = [e for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    last = runs[-1]
    totals = collections.Counter()
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        if not (last["ts"] <= e["ts"] <= last["ts"] + last["dur"]):
            continue
        totals[layer_kind(e["args"].get("op_name", "?"), e["name"], model)] += e["dur"]
    total = sum(totals.values())
    print(json.dumps({"engine": "onnxruntime", "model": model, "threads": threads, "batch": batch,
                      "run_ms": last["dur"] / 1000, "kinds_ms": {k: v / 1000 for k, v in totals.most_common()},
                      "kinds_share": {k: v / total for k, v in totals.most_common()}}))


def cls3d(directory, size, threads, volumes):
    s = session(directory, f"resnet3d-{size}", threads)
    cube = np.load(os.path.join(directory, f"cube-{size}.npy")).reshape(1, 1, size, size, size)
    expected = json.load(open(os.path.join(directory, f"reference-{size}.json")))["logit"]
    best = float("inf")
    for _ in range(max(1, volumes)):
        start = time.perf_counter()
        (logit,) = s.run(None, {"input": cube})
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"engine": "onnxruntime", "version": ort.__version__, "size": size, "threads": threads,
                      "volumes": volumes, "logit": float(logit[0, 0]), "logit_difference": abs(float(logit[0, 0]) - expected),
                      "network_seconds": best, "network_volumes_per_second": 1 / best}))


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "check" and len(args) == 1:
        check(args[0])
    elif command == "seg" and len(args) == 4:
        seg(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "cls" and len(args) == 3:
        cls(args[0], int(args[1]), int(args[2]))
    elif command == "cls3d" and len(args) == 4:
        cls3d(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "profile" and len(args) == 4:
        profile(args[0], args[1], int(args[2]), int(args[3]))
    else:
        sys.exit(__doc__)
