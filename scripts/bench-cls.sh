#!/usr/bin/env bash
# Classifier benchmark: Swift engine, ONNX Runtime 1.23 and PyTorch 1.13 side by side in one run, same seeded
# weights (the machine is shared: trust ratios, and figures only from a quiet machine).
#   (a) ECA-NFNet-L0 backbone frames/s at 224×224 per thread count and batch, each engine's best of 3 batches
#       per run, rounds alternating the engines; ratios Swift/ONNX Runtime and Swift/PyTorch (8.5 GFLOP/frame)
#   (b) one series of 120 kept slices end to end: Swift (embeddings shared across chunks) vs the reference's
#       shape (backbone recomputed for every chunk), in PyTorch and in Swift
#   (c) with --profile BATCH: time per layer kind, Swift (`cls-worker bench backbone --profile`) and ONNX
#       Runtime (enable_profiling), 1 thread, that batch
# usage: scripts/bench-cls.sh [--rounds N (3)] [--batches "1 8 35"] [--threads "1 2"] [--profile BATCH] [--no-series]
#   quick try: scripts/bench-cls.sh --rounds 1 --batches 1 --threads 1 --profile 1 --no-series
#   env: REFENV, ORTENV (see scripts/reference-python.sh, scripts/onnxruntime-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
rounds=3 batch_list="1 8 35" threads_list="1 2" profile_batch="" series=1
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --batches) batch_list=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --profile) profile_batch=$2; shift 2 ;;
    --no-series) series=""; shift ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
source scripts/bench-onnx.sh
swift build -c release --product cls-worker >/dev/null
bin=$(swift build -c release --show-bin-path)/cls-worker
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (Swift and PyTorch); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  for threads in $threads_list; do
    for batch in $batch_list; do
      "$bin" bench backbone --threads "$threads" --batch "$batch" >>"$results"
      run_ort cls "$onnx" "$threads" "$batch" >>"$results"
      "$reference" tools/reference/bench_cls.py backbone "$threads" "$batch" >>"$results"
    done
  done
done
if [[ -n $profile_batch ]]; then
  "$bin" bench backbone --threads 1 --batch "$profile_batch" --profile | sed 's/"fps"/"profiled_fps"/' >>"$results"
  run_ort profile "$onnx" eca_nfnet_l0 1 "$profile_batch" >>"$results"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(a) ECA-NFNet-L0 backbone, 224x224, best of $rounds alternating round(s)"
python3 tools/reference/bench_summary.py "$results" fps frames/s 8.5

[[ -n $series ]] || exit 0
"$reference" tools/reference/bench_cls.py prepare "$work" >/dev/null
"$bin" bench study "$work/study" --models "$work/models" --threads 2 >>"$results"
"$bin" bench study "$work/study" --models "$work/models" --threads 2 --recompute >>"$results"
"$reference" tools/reference/bench_cls.py series "$work" 2 >>"$results"
"$reference" - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("(b) one series, 120 kept slices, 2 threads, tta zoom")
shared = next(r for r in rows if r["engine"] == "swift" and "kept" in r)
recompute = next(r for r in rows if r["engine"] == "swift-recompute")
reference = next(r for r in rows if r["engine"] == "pytorch-reference")
print(f"  swift, embeddings shared:     {shared['seconds']:7.1f} s  ({shared['chunks']} chunks)")
print(f"  swift, recomputed per chunk:  {recompute['seconds']:7.1f} s  gain {recompute['seconds'] / shared['seconds']:.2f}")
print(f"  pytorch reference pipeline:   {reference['seconds']:7.1f} s  gain {reference['seconds'] / shared['seconds']:.2f}"
      f"  (|p_swift - p_ref| = {abs(reference['probability'] - shared['probability']):.2e})")
PY
