"""PyTorch side and bookkeeping of scripts/bench-3d.sh (the 3D classifier: MONAI resnet18 on seeded weights,
cls3d_reference.py). Run with the reference stack, except `summary` (standard library only).

  bench_cls3d.py prepare DIR SLICES ROWS COLUMNS SIZE...   the phantom series (DIR/phantom.npy); per size, the
        reference's preprocessed cube (DIR/cube-S.npy) and logit (DIR/reference-S.json), and the network exported
        with torch.onnx (DIR/resnet3d-S.onnx, opset 13, input 1x1xSxSxS)
  bench_cls3d.py torch DIR SIZE THREADS VOLUMES            PyTorch: best time per volume over VOLUMES volumes,
        whole path (preprocessing + network) and each part
  bench_cls3d.py summary RESULTS.jsonl                     the table: volumes/s, peak RSS, ratios, parity
Each command but summary prints one JSON line.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

OPSET = 13


def prepare(directory, slices, rows, columns, sizes):
    import numpy as np
    import torch

    import cls3d_reference as ref

    os.makedirs(directory, exist_ok=True)
    raw = ref.phantom(slices, rows, columns)
    np.save(os.path.join(directory, "phantom.npy"), raw)
    written = {}
    for size in sizes:
        config = ref.configuration(size=size)
        cube = ref.preprocess(raw, config)
        np.save(os.path.join(directory, f"cube-{size}.npy"), cube.numpy().reshape(-1))
        model = ref.build_model(config)
        logit = ref.logit(model, cube)
        with open(os.path.join(directory, f"reference-{size}.json"), "w") as f:
            json.dump({"logit": logit}, f)
        path = os.path.join(directory, f"resnet3d-{size}.onnx")
        with torch.no_grad():
            torch.onnx.export(model, cube[None, None], path, opset_version=OPSET, input_names=["input"],
                              output_names=["logit"])
        written[size] = {"logit": logit, "onnx_bytes": os.path.getsize(path)}
    print(json.dumps({"prepared": written, "phantom": [slices, rows, columns]}))


def bench_torch(directory, size, threads, volumes):
    import numpy as np
    import torch

    import cls3d_reference as ref

    torch.set_num_threads(threads)
    raw = np.load(os.path.join(directory, "phantom.npy"))
    config = ref.configuration(size=size)
    model = ref.build_model(config)
    best = {"total": float("inf"), "preprocessing": float("inf"), "network": float("inf")}
    for _ in range(max(1, volumes)):
        start = time.perf_counter()
        cube = ref.preprocess(raw, config)
        preprocessed = time.perf_counter()
        logit = ref.logit(model, cube)
        end = time.perf_counter()
        for key, seconds in (("total", end - start), ("preprocessing", preprocessed - start),
                             ("network", end - preprocessed)):
            best[key] = min(best[key], seconds)
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "size": size, "threads": threads,
                      "volumes": volumes, "logit": logit, "seconds": best["total"],
                      "preprocessing_seconds": best["preprocessing"], "network_seconds": best["network"],
                      "volumes_per_second": 1 / best["total"], "network_volumes_per_second": 1 / best["network"]}))


ENGINES = ("swift", "onnxruntime", "pytorch")


def summary(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    # Swift's parity runs (the ones given the reference's cube) are not timed runs.
    runs = [r for r in rows if r.get("engine") in ENGINES and "max_cube_difference" not in r]
    parity = [r for r in rows if "logit_difference" in r]
    print(f"{'size':>4} {'thr':>3} | {'volumes/s: swift':>16} {'pytorch':>8} | {'network only: swift':>19} {'ort':>8} "
          f"{'pytorch':>8} | {'swift/ort':>9} {'swift/torch':>11} | {'peak RSS MB: swift':>18} {'ort':>6} {'pytorch':>7}")
    for size, threads in sorted({(r["size"], r["threads"]) for r in runs}, key=lambda k: (-k[0], k[1])):
        mine = [r for r in runs if (r["size"], r["threads"]) == (size, threads)]

        def best(engine, key):
            values = [r[key] for r in mine if r["engine"] == engine and key in r]
            return max(values) if values else None

        def peak(engine):
            values = [r["peak_rss_mb"] for r in mine if r["engine"] == engine and "peak_rss_mb" in r]
            return f"{max(values):.0f}" if values else "-"

        def cell(value, width):
            return f"{value:{width}.4f}" if value else f"{'-':>{width}}"

        def ratio(a, b):
            return f"{a / b:.2f}" if a and b else "-"

        net = {e: best(e, "network_volumes_per_second") for e in ENGINES}
        whole = {e: best(e, "volumes_per_second") for e in ("swift", "pytorch")}
        print(f"{size:>4} {threads:>3} | {cell(whole['swift'], 16)} {cell(whole['pytorch'], 8)} | "
              f"{cell(net['swift'], 19)} {cell(net['onnxruntime'], 8)} {cell(net['pytorch'], 8)} | "
              f"{ratio(net['swift'], net['onnxruntime']):>9} {ratio(whole['swift'], whole['pytorch']):>11} | "
              f"{peak('swift'):>18} {peak('onnxruntime'):>6} {peak('pytorch'):>7}")
    print("swift/ort compares the network alone (ONNX Runtime gets the reference's preprocessed cube); swift/torch the"
          " whole path")
    shown = set()
    for r in parity:
        if (r["engine"], r["size"]) not in shown:
            shown.add((r["engine"], r["size"]))
            print(f"parity at S={r['size']} ({r['engine']}, {r['threads']} thread(s)): |logit - MONAI| = "
                  f"{r['logit_difference']:.2e}" + (f", max |cube - reference| = {r['max_cube_difference']:.2e}"
                                                   if "max_cube_difference" in r else ""))


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "prepare" and len(args) >= 5:
        prepare(args[0], int(args[1]), int(args[2]), int(args[3]), [int(s) for s in args[4:]])
    elif command == "torch" and len(args) == 4:
        bench_torch(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif command == "summary" and len(args) == 1:
        summary(args[0])
    else:
        sys.exit(__doc__)
