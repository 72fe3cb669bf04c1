#!/usr/bin/env bash
# 3D classifier benchmark (MONAI resnet18 on seeded weights, a phantom series): the Swift engine, PyTorch 1.13 +
# MONAI 1.4 and ONNX Runtime 1.23 (the network exported with torch.onnx) side by side in one run, engines
# alternating within every round. Per size and thread count: volumes/s of the whole path (Swift, PyTorch) and of
# the network alone (all three; ONNX Runtime gets the reference's preprocessed cube), the ratios, and each
# process's peak RSS (/usr/bin/time). First, once per size, the parity check: Swift's preprocessed cube and logit
# against the reference's on the same phantom. The machine is shared: trust ratios, and figures only from a quiet
# machine (the load average is printed before and after).
# usage: scripts/bench-3d.sh [--rounds N (2)] [--sizes "224 128"] [--threads "1 2"] [--volumes N (1)]
#                            [--phantom "SLICES ROWS COLUMNS" ("64 256 256")]
#   quick try: scripts/bench-3d.sh --rounds 1 --sizes 32 --threads 1 --phantom "12 40 36"
#   env: REFENV, ORTENV (see scripts/reference-python.sh, scripts/onnxruntime-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
rounds=2 sizes="224 128" threads_list="1 2" volumes=1 phantom="64 256 256"
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --volumes) volumes=$2; shift 2 ;;
    --phantom) phantom=$2; shift 2 ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "bench-3d.sh needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
reference=$(scripts/reference-python.sh)
ort=$(scripts/onnxruntime-python.sh)
swift build -c release --product VolumeClassificationBenchmark >/dev/null
bin=$(swift build -c release --show-bin-path)/VolumeClassificationBenchmark
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"

# measure CMD...: runs CMD (which prints one JSON line) and appends that line with the process's peak RSS.
measure() {
  /usr/bin/time -f %M -o "$work/rss" "$@" >"$work/line"
  python3 - "$work/line" "$work/rss" >>"$results" <<'PY'
import json, sys
row = json.loads(open(sys.argv[1]).read().splitlines()[-1])
row["peak_rss_mb"] = int(open(sys.argv[2]).read().split()[-1]) / 1024
print(json.dumps(row))
PY
}

echo "preparing the phantom ($phantom), the reference's cubes and logits, and the ONNX export per size" >&2
# shellcheck disable=SC2086  # the phantom's three sizes and the sizes are lists
"$reference" tools/reference/bench_cls3d.py prepare "$work" $phantom $sizes >&2
for size in $sizes; do
  expected=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["logit"])' "$work/reference-$size.json")
  "$bin" "$work/phantom.npy" "$size" 2 1 18 "$work/cube-$size.npy" "$expected" >>"$results"
done
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (Swift and PyTorch); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  for size in $sizes; do
    for threads in $threads_list; do
      measure "$bin" "$work/phantom.npy" "$size" "$threads" "$volumes"
      # ONNX Runtime runs its own kernels (MLAS): this machine's OpenBLAS settings are not meant for it.
      measure env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$ort" tools/reference/bench_ort.py cls3d "$work" "$size" "$threads" "$volumes"
      measure "$reference" tools/reference/bench_cls3d.py torch "$work" "$size" "$threads" "$volumes"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "MONAI resnet18, phantom $phantom, best of $rounds alternating round(s) of $volumes volume(s)"
python3 tools/reference/bench_cls3d.py summary "$results"
