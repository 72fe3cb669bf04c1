#!/usr/bin/env bash
# UNet++/DenseNet121 throughput, Swift engine vs PyTorch (Debian's torch in the reference environment), same
# seeded weights, batch 8 at 224x224, 1 and 2 threads, alternating in one run so both see the same machine load.
#   usage: scripts/bench-seg.sh [BATCHES (default 2)]     env: REFENV (see scripts/reference-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
batches=${1:-2}
python=$(scripts/reference-python.sh)
swift build -c release --product seg-worker >/dev/null
worker=$(swift build -c release --show-bin-path)/seg-worker
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare ratios)"
printf '%-8s %-14s %-14s %-7s %-18s %-18s\n' threads swift_sl/s torch_sl/s ratio "GFLOP/s swift/torch" "peak MB swift/torch"
for threads in 1 2; do
  s=$(env -u MGMT_MODELS "$worker" bench --threads "$threads" --batch 8 --batches "$batches")
  p=$("$python" tools/reference/bench_seg.py "$threads" 8 "$batches")
  "$python" - "$threads" "$s" "$p" <<'PY'
import json, sys
t, s, p = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{t:<8} {s['slices_per_second']:<14.3f} {p['slices_per_second']:<14.3f} {s['slices_per_second'] / p['slices_per_second']:<7.2f} "
      f"{s['gflops']:.0f}/{p['gflops']:.0f}{'':<11} {s['peak_memory_mb']:.0f}/{p['peak_memory_mb']:.0f}")
PY
done
