#!/usr/bin/env bash
# Fleet benchmark: wall time of a multi-study run through the four workers (1 and 2 seg-worker replicas) next to
# the sum of the offline stage times (ingest run + seg-worker run + cls-worker run) for the same studies and
# weights. Needs a release build and the servers (scripts/servers.sh start); uses its own queues and schema.
#   usage: scripts/bench-fleet.sh [STUDIES (3)] [SLICES (24)] [SIZE (128)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
studies=${1:-3} slices=${2:-24} size=${3:-128}
bin=$(swift build -c release --show-bin-path)
for program in ingest seg-worker cls-worker reporter; do
  [[ -x $bin/$program ]] || { echo "bench: $bin/$program missing: swift build -c release" >&2; exit 1; }
done
work=$(mktemp -d /tmp/mgmt-bench.XXXXXX)
pids=()
cleanup() {
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null && wait "${pids[@]}" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export MGMT_THREADS=${MGMT_THREADS:-2}
models=$work/models
"$bin/cls-worker" demo-weights "$models" >/dev/null
for i in $(seq 1 "$studies"); do
  /usr/bin/python3 tools/testdata/make_study.py --out "$work/export" --patient "$(printf '%05d' $((900 + i)))" \
    --slices "$slices" --size "$size" --seed $((i + 3)) >/dev/null
done
now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
elapsed() { calc "$2 - $1"; }
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$MGMT_PG_CONNINFO" -X -q -t -A -c "$1"; }

echo "bench: $studies studies x 4 series, $slices slices of ${size}x${size}, MGMT_THREADS=$MGMT_THREADS, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
offline=0
for study in "$work"/export/*; do
  out=$work/offline/$(basename "$study")
  t0=$(now); "$bin/ingest" run "$study" --out "$out" >/dev/null
  t1=$(now); "$bin/seg-worker" run "$out" --models "$models" --threads "$MGMT_THREADS" >/dev/null
  t2=$(now); "$bin/cls-worker" run "$out" --models "$models" --threads "$MGMT_THREADS" >/dev/null 2>&1
  t3=$(now)
  printf '  offline %s: ingest %.1f s, segment %.1f s, classify %.1f s\n' "$(basename "$study")" \
    "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$(elapsed "$t2" "$t3")"
  offline=$(calc "$offline + $t3 - $t0")
done
printf 'offline sum of stage times: %.1f s\n' "$offline"

for replicas in 1 2; do
  prefix=bench.r$replicas schema=bench_r$replicas
  sql "drop schema if exists $schema cascade" >/dev/null
  export MGMT_PG_SCHEMA=$schema MGMT_STORE=$work/store-r$replicas MGMT_MODELS=$models MGMT_METRICS_PORT=0
  export MGMT_EXCHANGE=$prefix.x MGMT_QUEUE_STUDIES=$prefix.studies MGMT_QUEUE_SEGMENT=$prefix.segment
  export MGMT_QUEUE_CLASSIFY=$prefix.classify MGMT_QUEUE_REPORT=$prefix.report
  export MGMT_QUEUE_CLASSIFY3D=$prefix.classify3d
  pids=()
  workers=(reporter ingest cls-worker)
  for ((r = 0; r < replicas; r++)); do workers+=(seg-worker); done
  for worker in "${workers[@]}"; do
    "$bin/$worker" work >>"$work/$worker-r$replicas.log" 2>&1 &
    pids+=($!)
  done
  # Workers up and consuming before the clock starts.
  until (($(grep -l '\[Fleet\] consuming' "$work"/*-r$replicas.log 2>/dev/null | wc -l) >= 4)); do sleep 0.2; done
  sleep 1
  t0=$(now)
  "$bin/ingest" enqueue "$work/export" >/dev/null 2>&1
  until [[ $(sql "select count(*) from $schema.studies where status in ('done', 'failed')" 2>/dev/null) == "$studies" ]]; do
    sleep 0.5
  done
  wall=$(elapsed "$t0" "$(now)")
  printf 'fleet, %d seg-worker replica(s): wall %.1f s, overhead ratio wall/offline-sum %.2f\n' "$replicas" "$wall" \
    "$(calc "$wall / $offline")"
  kill -TERM "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true
  pids=()
  sql "drop schema $schema cascade" >/dev/null
done
