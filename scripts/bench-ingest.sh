#!/usr/bin/env bash
# Benchmark of `ingest run` against pydicom + NumPy doing the same work on the same files, in one run.
# usage: scripts/bench-ingest.sh [slices=400] [size=256] [repeats=5]
# Generates a one-series study (make_study.py), then alternates the two sides `repeats` times and reports the
# best wall time of each (slices/s), their ratio, and peak RSS (getrusage). Needs Debian's python3-numpy and
# python3-pydicom.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
slices=${1:-400}
size=${2:-256}
repeats=${3:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release --product ingest >/dev/null
/usr/bin/python3 tools/testdata/make_study.py --out "$work/in" --slices "$slices" --size "$size" --series FLAIR >/dev/null
study="$work/in/00042"
echo "study: $slices slices of ${size}x${size}, $(du -sh "$study" | cut -f1); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# measure COMMAND...: prints "<wall seconds> <peak RSS in MB>" of one run (getrusage of the child)
measure() {
  /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - start
print(f"{seconds:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
}

declare -A best rss
sides=(swift-2threads swift-1thread pydicom)
for ((i = 0; i < repeats; i++)); do
  for side in "${sides[@]}"; do
    rm -rf "$work/out"
    case $side in
      swift-2threads) result=$(measure .build/release/ingest run "$study" --out "$work/out" --threads 2) ;;
      swift-1thread) result=$(measure .build/release/ingest run "$study" --out "$work/out" --threads 1) ;;
      pydicom) result=$(measure /usr/bin/python3 tools/bench/pydicom_ingest.py "$study/FLAIR" "$work/out") ;;
    esac
    read -r seconds peak <<<"$result"
    if [[ -z ${best[$side]:-} ]] || awk "BEGIN { exit !($seconds < ${best[$side]}) }"; then best[$side]=$seconds; fi
    rss[$side]=$peak
  done
done

printf '%-16s %9s %10s %12s\n' side seconds slices/s "peak RSS MB"
for side in "${sides[@]}"; do
  printf '%-16s %9.3f %10.0f %12s\n' "$side" "${best[$side]}" "$(awk "BEGIN { print $slices / ${best[$side]} }")" "${rss[$side]}"
done
awk "BEGIN { printf \"ratio (pydicom time / swift time): %.2fx with 2 threads, %.2fx with 1 thread\n\", \
  ${best[pydicom]} / ${best[swift-2threads]}, ${best[pydicom]} / ${best[swift-1thread]} }"
