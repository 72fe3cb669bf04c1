#!/usr/bin/env bash
# Classifier benchmark, Swift and PyTorch side by side in one run (the machine is shared: compare ratios).
#   (a) ECA-NFNet-L0 backbone frames/s at batch 35, 224×224, 1 and 2 threads, with GFLOP/s (8.5 GFLOP/frame)
#   (b) one series of 120 kept slices end to end: Swift (embeddings shared across chunks) vs the reference's
#       shape (backbone recomputed for every chunk), in PyTorch and in Swift.
# usage: scripts/bench-cls.sh [PYTHON]   (default: scripts/reference-python.sh)
# Set BENCH_SKIP_REFERENCE_SERIES=1 to skip the slowest part (PyTorch on all 18 chunks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
python=${1:-$(scripts/reference-python.sh)}
swift build -c release --product cls-worker >/dev/null
bin=$(swift build -c release --show-bin-path)/cls-worker
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" tools/reference/bench_cls.py prepare "$work" >/dev/null
results="$work/results.jsonl"
# Rounds alternate the two engines so that both see the same phases of the other helpers' load.
for round in 1 2 3; do
  for threads in 1 2; do
    "$bin" bench backbone --threads "$threads" --batch 35 | tee -a "$results"
    "$python" tools/reference/bench_cls.py backbone "$threads" 35 | tee -a "$results"
  done
done
"$bin" bench study "$work/study" --models "$work/models" --threads 2 | tee -a "$results"
"$bin" bench study "$work/study" --models "$work/models" --threads 2 --recompute | tee -a "$results"
if [[ -z "${BENCH_SKIP_REFERENCE_SERIES:-}" ]]; then
  "$python" tools/reference/bench_cls.py series "$work" 2 | tee -a "$results"
fi

"$python" - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
gflop = 8.5
print("\n(a) backbone, batch 35, 224x224, best of 3 alternating rounds (load average at the end: %s)"
      % open("/proc/loadavg").read().split()[0])
for t in (1, 2):
    s = [r["fps"] for r in rows if r["engine"] == "swift" and r.get("batch") and r["threads"] == t]
    p = [r["fps"] for r in rows if r["engine"] == "pytorch" and r["threads"] == t]
    paired = sorted(a / b for a, b in zip(s, p))
    print(f"  {t} thread(s): swift {max(s):6.2f} frames/s ({max(s) * gflop:6.1f} GFLOP/s)   "
          f"pytorch {max(p):6.2f} frames/s ({max(p) * gflop:6.1f} GFLOP/s)   ratio of bests {max(s) / max(p):.2f}"
          f"   round ratios {', '.join(f'{x:.2f}' for x in paired)}")
print("(b) one series, 120 kept slices, 2 threads, tta zoom")
shared = next(r for r in rows if r["engine"] == "swift" and "kept" in r)
recompute = next(r for r in rows if r["engine"] == "swift-recompute")
print(f"  swift, embeddings shared:     {shared['seconds']:7.1f} s  ({shared['chunks']} chunks)")
print(f"  swift, recomputed per chunk:  {recompute['seconds']:7.1f} s  gain {recompute['seconds'] / shared['seconds']:.2f}")
reference = [r for r in rows if r["engine"] == "pytorch-reference"]
if reference:
    r = reference[0]
    print(f"  pytorch reference pipeline:   {r['seconds']:7.1f} s  gain {r['seconds'] / shared['seconds']:.2f}"
          f"  (|p_swift - p_ref| = {abs(r['probability'] - shared['probability']):.2e})")
PY
