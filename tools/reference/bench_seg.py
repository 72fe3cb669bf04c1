"""PyTorch side of scripts/bench-seg.sh: UNet++/DenseNet121 on the seeded weights, batch x 224x224, one JSON line.
usage: bench_seg.py THREADS [BATCH] [BATCHES]"""
import json
import pathlib
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from seg_fixtures import build_model  # noqa: E402
from seeded_weights import uniform  # noqa: E402

threads = int(sys.argv[1])
batch = int(sys.argv[2]) if len(sys.argv) > 2 else 8
batches = int(sys.argv[3]) if len(sys.argv) > 3 else 2
torch.set_num_threads(threads)
model = build_model()
x = torch.from_numpy(uniform("bench.input", batch * 3 * 224 * 224, -2.0, 2.0, 1).reshape(batch, 3, 224, 224))
with torch.no_grad():
    model(x)
    start = time.perf_counter()
    for _ in range(batches):
        model(x)
    seconds = time.perf_counter() - start
rate = batch * batches / seconds
print(json.dumps({"engine": "pytorch " + torch.__version__, "threads": threads, "batch": batch, "batches": batches,
                  "slices_per_second": rate, "gflops": rate * 84.5,
                  "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
