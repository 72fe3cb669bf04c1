#!/usr/bin/env bash
# UNet++/DenseNet121 throughput: Swift engine, ONNX Runtime 1.23 and PyTorch 1.13 on the same seeded weights,
# 224×224, alternating engine by engine in every round so that all see the same phases of the machine's load.
# Prints slices/s per engine (best of the rounds), GFLOP/s, and the Swift engine's ratios; the load average
# before and after (the machine is shared: trust ratios from a quiet machine).
# With --profile BATCH: time per layer kind at 1 thread, Swift (`seg-worker bench --profile`) and ONNX Runtime
# (its per-node profile, tools/reference/bench_ort.py profile), in the same rows.
#   usage: scripts/bench-seg.sh [--rounds N (2)] [--batch N (8)] [--batches N timed per run (2)] [--threads "1 2"]
#          [--profile BATCH]
#   quick try: scripts/bench-seg.sh --rounds 1 --batch 1 --batches 1 --threads 1 --profile 1
#   env: REFENV, ORTENV (see scripts/reference-python.sh, scripts/onnxruntime-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
rounds=2 batch=8 batches=2 threads_list="1 2" profile_batch=""
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --profile) profile_batch=$2; shift 2 ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
source scripts/bench-onnx.sh
swift build -c release --product seg-worker >/dev/null
worker=$(swift build -c release --show-bin-path)/seg-worker
results=$(mktemp)
trap 'rm -f "$results"' EXIT
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (Swift and PyTorch); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  for threads in $threads_list; do
    env -u MGMT_MODELS "$worker" bench --threads "$threads" --batch "$batch" --batches "$batches" >>"$results"
    run_ort seg "$onnx" "$threads" "$batch" "$batches" >>"$results"
    "$reference" tools/reference/bench_seg.py "$threads" "$batch" "$batches" >>"$results"
  done
done
if [[ -n $profile_batch ]]; then
  env -u MGMT_MODELS "$worker" bench --threads 1 --batch "$profile_batch" --batches 1 --profile |
    sed 's/"slices_per_second"/"profiled_slices_per_second"/' >>"$results"
  run_ort profile "$onnx" segmentation 1 "$profile_batch" >>"$results"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 tools/reference/bench_summary.py "$results" slices_per_second slices/s 84.5
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("peak RSS MB: " + ", ".join(f"{r['engine'].split()[0]} {r['peak_memory_mb']:.0f}" for r in rows[:3]))
PY
