#!/usr/bin/env bash
# Benchmark of the fleet's Storage SCP against DCMTK's own storescp, both receiving the same study from
# storescu, side by side in one run; then the time to write the SEG and SR of one series.
# usage: scripts/bench-dicom.sh [slices=200] [size=256] [repeats=3]
# Ours keeps its guarantee (fsync of file and directory before the success status); storescp writes without
# fsync, as it does by default. Reports the best wall time of each side (instances/s, MB/s) and ours/storescp.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
slices=${1:-200}
size=${2:-256}
repeats=${3:-3}
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

swift build -c release --product DICOMExchangeBenchmark >/dev/null
bench=$(swift build -c release --show-bin-path)/DICOMExchangeBenchmark
/usr/bin/python3 tools/testdata/make_study.py --out "$work/study" --slices "$slices" --size "$size" >/dev/null
study="$work/study/00042"
instances=$(find "$study" -type f | wc -l)
megabytes=$(du -sm "$study" | cut -f1)
echo "study: $instances instances (${size}x${size}), ${megabytes} MB; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_listening PORT: until an association to PORT succeeds
wait_listening() {
  for _ in $(seq 100); do echoscu -to 1 127.0.0.1 "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "nothing listens on $1" >&2; return 1
}

# receive SIDE: starts the receiver, sends the study with storescu, prints the wall seconds of the send
receive() {
  local side=$1 port out pid
  port=$(free_port); out="$work/received-$side"; rm -rf "$out"; mkdir -p "$out"
  case $side in
    ours) "$bench" listen "$port" "$out" >/dev/null & pid=$! ;;
    storescp) storescp -aet MGMT --output-directory "$out" "$port" & pid=$! ;;
  esac
  pids+=("$pid")
  wait_listening "$port"
  local start end
  start=$(date +%s.%N)
  storescu -aec MGMT +sd +r 127.0.0.1 "$port" "$study" >/dev/null
  end=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local received; received=$(find "$out" -type f -name '*.dcm' -o -type f -name 'MR.*' | wc -l)
  [[ $received -eq $instances ]] || { echo "$side stored $received of $instances instances" >&2; exit 1; }
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

declare -A best
for ((i = 0; i < repeats; i++)); do
  for side in ours storescp; do
    seconds=$(receive "$side")
    if [[ -z ${best[$side]:-} ]] || awk -v a="$seconds" -v b="${best[$side]}" 'BEGIN { exit !(a < b) }'; then
      best[$side]=$seconds
    fi
  done
done
for side in ours storescp; do
  awk -v s="${best[$side]}" -v n="$instances" -v mb="$megabytes" -v side="$side" \
    'BEGIN { printf "%-9s %6.2f s  %7.1f instances/s  %6.1f MB/s\n", side, s, n / s, mb / s }'
done
awk -v ours="${best[ours]}" -v theirs="${best[storescp]}" \
  'BEGIN { printf "ratio ours/storescp (instances/s): %.2f (aim >= 0.8)\n", theirs / ours }' 

mkdir -p "$work/derived"
read -r seg_ms sr_ms frames < <("$bench" derive "$study/FLAIR" "$work/derived")
echo "SEG of one ${slices}-slice series: ${seg_ms} ms (${frames} frames); SR: ${sr_ms} ms"
