#!/usr/bin/env bash
# Soak: N generated studies through the fleet twice on the local servers (scripts/servers.sh start). First an
# undisturbed run (one worker of each kind), then a disturbed one: two replicas of every worker kind, KILLS
# random `kill -9` spread over every kind (each killed worker replaced, as an orchestrator would), one RabbitMQ
# restart and one PostgreSQL restart while the studies are in flight. Passes when every study has exactly one set
# of rows and they equal the undisturbed run's (statuses, slice counts, every probability), nothing was recorded
# as a failure, every queue and dead-letter queue is empty, and no job workspace is left in the store.
# It restarts the servers: never run it against servers someone else uses.
#   usage: scripts/soak.sh [STUDIES (20)] [KILLS (10)]
#   env:   SOAK_SLICES (12), SOAK_SIZE (64), SOAK_SERIES (FLAIR,T1w,T1wCE,T2w), SOAK_TIMEOUT seconds per run (3600),
#          SOAK_BIN (the executables; default the release build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
studies=${1:-20} kills=${2:-10}
slices=${SOAK_SLICES:-12} size=${SOAK_SIZE:-64} series=${SOAK_SERIES:-FLAIR,T1w,T1wCE,T2w}
timeout=${SOAK_TIMEOUT:-3600}
kinds=(ingest seg-worker cls-worker reporter)
bin=${SOAK_BIN:-$(swift build -c release --show-bin-path)}  # SOAK_BIN: a copy, to go on building meanwhile
for program in "${kinds[@]}"; do
  [[ -x $bin/$program ]] || { echo "soak: $bin/$program missing: swift build -c release" >&2; exit 1; }
done
[[ $(scripts/servers.sh status) == *"rabbitmq: running"* ]] || { echo "soak: start the servers first" >&2; exit 1; }
work=$(mktemp -d /tmp/mgmt-soak.XXXXXX)
declare -A kind_of=()
cleanup() {
  local pids=("${!kind_of[@]}")
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null && wait "${pids[@]}" 2>/dev/null
  scripts/servers.sh start-rabbitmq >/dev/null 2>&1 || true
  scripts/servers.sh start-postgres >/dev/null 2>&1 || true
  [[ ${SOAK_KEEP:-0} == 1 ]] && echo "soak: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$MGMT_PG_CONNINFO" -X -q -t -A -c "$1"; }
log() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

export MGMT_THREADS=1 MGMT_METRICS_PORT=0 MGMT_RETRY_BACKOFF=0.5 MGMT_HEARTBEAT=5 MGMT_SHUTDOWN_GRACE=10
export MGMT_MODELS=$work/models
"$bin/cls-worker" demo-weights "$MGMT_MODELS" >/dev/null
for i in $(seq 1 "$studies"); do
  /usr/bin/python3 tools/testdata/make_study.py --out "$work/export" --patient "$(printf '%05d' $((700 + i)))" \
    --slices "$slices" --size "$size" --series "$series" --seed $((i + 11)) >/dev/null
done
log "$studies studies x ($series), $slices slices of ${size}x${size}; $kills kills, a broker and a database restart"

# One run's private topology, schema and store.
use_run() {
  local name=$1
  export MGMT_PG_SCHEMA=soak_$name MGMT_STORE=$work/store-$name MGMT_EXCHANGE=soak.$name.x
  export MGMT_QUEUE_STUDIES=soak.$name.studies MGMT_QUEUE_SEGMENT=soak.$name.segment
  export MGMT_QUEUE_CLASSIFY=soak.$name.classify MGMT_QUEUE_REPORT=soak.$name.report
  export MGMT_QUEUE_CLASSIFY3D=soak.$name.classify3d
  sql "drop schema if exists $MGMT_PG_SCHEMA cascade" >/dev/null
}
start_worker() {
  local kind=$1
  "$bin/$kind" work >>"$work/$MGMT_PG_SCHEMA-$kind.log" 2>&1 &
  kind_of[$!]=$kind
}
finished() {
  [[ $(sql "select count(*) from $MGMT_PG_SCHEMA.studies where status in ('done', 'failed')" 2>/dev/null) == "$studies" ]]
}
stop_workers() {
  local pids=("${!kind_of[@]}")
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null
  ((${#pids[@]})) && wait "${pids[@]}" 2>/dev/null || true
  kind_of=()
}
# Every row the fleet writes, without times: what must not differ between two runs of the same studies.
dump() {
  local s=$MGMT_PG_SCHEMA
  sql "select 'study', patient_id, study_instance_uid, status, n_series, coalesce(error, '') from $s.studies order by 2, 3"
  sql "select 'series', series_instance_uid, patient_id, mri_type, slices_total, slices_kept, slices_selected, status,
              coalesce(error, '') from $s.series order by 2"
  sql "select 'chunk', series_instance_uid, chunk_index, first_instance, probability from $s.chunk_predictions order by 2, 3"
  sql "select 'series_prediction', series_instance_uid, probability, n_chunks, coalesce(reason, '')
       from $s.series_predictions order by 2"
  sql "select 'patient', patient_id, probability, n_types, n_chunks, coalesce(reason, '') from $s.patient_predictions order by 2"
  sql "select 'failure', kind, stage, reason from $s.failures order by 2, 3, 4"
}
wait_until_finished() {
  local started=$SECONDS
  until finished; do
    ((SECONDS - started < timeout)) || { log "FAIL: not every study finished within $timeout s"; exit 1; }
    sleep 1
  done
}

# 1. Undisturbed.
use_run ref
for kind in "${kinds[@]}"; do start_worker "$kind"; done
started=$SECONDS
"$bin/ingest" enqueue "$work/export" >/dev/null 2>&1
wait_until_finished
sleep 2  # the last report events
stop_workers
dump >"$work/reference.txt"
log "undisturbed run: $((SECONDS - started)) s, $(grep -c '^study' "$work/reference.txt") studies"

# 2. Replicas, kills and restarts.
use_run soak
for kind in "${kinds[@]}" "${kinds[@]}"; do start_worker "$kind"; done
started=$SECONDS
"$bin/ingest" enqueue "$work/export" >/dev/null 2>&1
# Every kind killed, in a shuffled order repeated until KILLS; the broker restarts after a third of the kills,
# the database after two thirds.
plan=()
while ((${#plan[@]} < kills)); do plan+=($(printf '%s\n' "${kinds[@]}" | shuf)); done
plan=("${plan[@]:0:kills}")
declare -A killed=()
done_kills=0 broker_restarted=0 database_restarted=0
while ((done_kills < kills)); do
  sleep "$(shuf -i 3-8 -n 1)"
  if finished; then
    log "FAIL: the studies finished after $done_kills of $kills kills: use more studies"
    exit 1
  fi
  kind=${plan[done_kills]}
  victims=()
  for pid in "${!kind_of[@]}"; do [[ ${kind_of[$pid]} == "$kind" ]] && victims+=("$pid"); done
  victim=${victims[RANDOM % ${#victims[@]}]}
  kill -KILL "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  unset "kind_of[$victim]"
  start_worker "$kind"
  done_kills=$((done_kills + 1))
  killed[$kind]=$((${killed[$kind]:-0} + 1))
  log "kill -9 $kind (pid $victim), replaced; $(sql "select count(*) from $MGMT_PG_SCHEMA.studies where status in ('done', 'failed')" 2>/dev/null || echo '?')/$studies studies finished"
  if ((!broker_restarted && done_kills >= kills / 3)); then
    scripts/servers.sh stop-rabbitmq >/dev/null; sleep 2; scripts/servers.sh start-rabbitmq >/dev/null
    broker_restarted=1
    log "RabbitMQ restarted"
  elif ((!database_restarted && done_kills >= 2 * kills / 3)); then
    scripts/servers.sh stop-postgres >/dev/null; sleep 5; scripts/servers.sh start-postgres >/dev/null
    database_restarted=1
    log "PostgreSQL restarted"
  fi
done
wait_until_finished
# Queues drain (the last report events, dead letters the reporter records) before the workers stop.
queued() { scripts/servers.sh rabbitmqctl list_queues name messages | awk -v p="soak.soak." 'index($1, p) == 1 && $2 > 0'; }
for _ in $(seq 1 60); do [[ -z $(queued) ]] && break; sleep 1; done
nonempty=$(queued)
stop_workers
dump >"$work/soak.txt"
log "disturbed run: $((SECONDS - started)) s; kills: $(for k in "${kinds[@]}"; do printf '%s %s, ' "$k" "${killed[$k]:-0}"; done)"

failed=0
if ! diff -u "$work/reference.txt" "$work/soak.txt" >"$work/rows.diff"; then
  log "FAIL: the rows differ from the undisturbed run:"; head -40 "$work/rows.diff"; failed=1
fi
if grep -q '^failure' "$work/soak.txt" "$work/reference.txt"; then
  log "FAIL: failures recorded:"; grep -h '^failure' "$work/reference.txt" "$work/soak.txt" | head; failed=1
fi
if [[ $(grep -c '^study' "$work/soak.txt") != "$studies" ]] || grep '^study' "$work/soak.txt" | grep -vq '|done|'; then
  log "FAIL: not exactly one done study row per study"; failed=1
fi
[[ -n $nonempty ]] && { log "FAIL: queues not empty: $nonempty"; failed=1; }
stale=$(find "$work/store-soak/.work" -mindepth 1 -maxdepth 1 2>/dev/null | sed "s|$work/store-soak/||")
[[ -n $stale ]] && { log "FAIL: stale job workspaces: $(echo $stale)"; failed=1; }
for kind in "${kinds[@]}"; do ((${killed[$kind]:-0} > 0)) || { log "FAIL: no $kind was killed"; failed=1; }; done
scripts/servers.sh rabbitmqctl list_queues name | grep '^soak\.' | while read -r queue; do
  scripts/servers.sh rabbitmqctl delete_queue "$queue" >/dev/null
done
sql "drop schema soak_ref cascade; drop schema soak_soak cascade" >/dev/null
if ((failed)); then log "FAILED"; exit 1; fi
log "PASSED: $studies studies, $(grep -c '^series|' "$work/soak.txt") series, $(grep -c '^chunk' "$work/soak.txt") chunk rows identical to the undisturbed run; queues empty; no stale workspace"
