#!/usr/bin/env bash
# The main job: install what is missing, build (release), start the local RabbitMQ + PostgreSQL, make a sample
# study and DEMO weights, run the four workers, enqueue the study, show progress and print the patient result.
# The servers stay up afterwards (scripts/servers.sh stop); the workers are stopped (SIGTERM) when it ends.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
scripts/install-deps.sh
source scripts/env.sh
echo "== building (release)"
swift build -c release 2>&1 | tail -n 1
bin=$(swift build -c release --show-bin-path)
scripts/servers.sh start
source scripts/env.sh  # again: the servers' first start made the credentials (MGMT_AMQP_URL_<ROLE>, ...)

demo=$MGMT_DATA_DIR/demo
export MGMT_STORE=$demo/store MGMT_MODELS=${MGMT_DEMO_MODELS:-$demo/models} MGMT_EXPORTS=$demo/export
mkdir -p "$demo/logs" "$MGMT_STORE"
if [[ ! -d $demo/export/00042 ]]; then
  echo "== making the sample study (generated phantom with a lesion: FLAIR, T1w, T1wCE, T2w)"
  /usr/bin/python3 tools/testdata/make_study.py --out "$demo/export" --patient 00042 --slices 32 --size 128
fi
if [[ -z ${MGMT_DEMO_MODELS:-} ]]; then
  # The 3D model's DEMO weights come with a classifier3d.json of a 64³ cube (the baseline's is 224³): the same
  # network on a smaller input, so that the demo stays quick.
  [[ -f $MGMT_MODELS/classifier3d-T2w.safetensors ]] || "$bin/cls-worker" demo-weights "$MGMT_MODELS" --resnet3d-size 64 >/dev/null
  cat <<'EOF'

  ##########################################################################################
  ##  DEMO WEIGHTS: seeded RANDOM weights of the full UNet++, ECA-NFNet-L0 + BiLSTM and   ##
  ##  3D ResNet18 (on a 64³ cube instead of 224³) architectures (the tumour mask is       ##
  ##  forced to cover each slice so that every slice                                      ##
  ##  reaches the classifier). The probabilities below are MEANINGLESS until trained      ##
  ##  weights are installed (README, "Weights"; MGMT_DEMO_MODELS=DIR uses them).          ##
  ##########################################################################################

EOF
fi

pids=()
stop_workers() {
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_workers EXIT
port=9101
# Each worker logs in as its own broker user, which may publish only where its stage sends (servers.sh).
# cls-worker-3d is `cls-worker work --model resnet3d`, the 3D classifier's worker (queue classify3d);
# ingest-deliver is `ingest deliver`, the DICOM edge's output (queue deliver: SEG and SR of a done study).
declare -A role=([reporter]=REPORT [ingest]=INGEST [seg-worker]=SEGMENT [cls-worker]=CLASSIFY [cls-worker-3d]=CLASSIFY3D
                 [ingest-deliver]=DELIVER)
declare -A command=([reporter]="reporter work" [ingest]="ingest work" [seg-worker]="seg-worker work"
                    [cls-worker]="cls-worker work" [cls-worker-3d]="cls-worker work --model resnet3d"
                    [ingest-deliver]="ingest deliver")
for worker in reporter ingest seg-worker cls-worker cls-worker-3d ingest-deliver; do
  url=MGMT_AMQP_URL_${role[$worker]}
  read -r -a argv <<<"${command[$worker]}"
  # Appended run after run (lines are timestamped): what a later run finds, such as a dead letter, can be traced back.
  MGMT_AMQP_URL=${!url} MGMT_METRICS_PORT=$port "$bin/${argv[0]}" "${argv[@]:1}" >>"$demo/logs/$worker.log" 2>&1 &
  pids+=($!)
  echo "started $worker (pid $!, log $demo/logs/$worker.log, metrics http://127.0.0.1:$port/metrics)"
  port=$((port + 1))
done

sql() { psql "$MGMT_PG_CONNINFO_READER" -X -q -t -A -F '|' -c "$1" 2>/dev/null || true; }
# What the reporter still owes to earlier runs on these servers (status events, dead letters of jobs that failed
# while no reporter ran) is recorded before this run's start time, so the progress below counts only this run.
for _ in $(seq 120); do
  owed=$(scripts/servers.sh rabbitmqctl list_queues name messages 2>/dev/null |
         awk '$1 == "report" || $1 ~ /[.]dead$/ { n += $2 } END { print n + 0 }')
  ((owed == 0)) && break
  sleep 0.5
done
t0=$(sql "select now()")
echo "== enqueueing"
# The broker's definitions hold the topology (servers.sh); the retry covers a broker still finishing its start.
for attempt in $(seq 1 30); do
  MGMT_AMQP_URL=$MGMT_AMQP_URL_ENQUEUE "$bin/ingest" enqueue "$demo/export" 2>"$demo/logs/enqueue.log" && break
  ((attempt < 30)) || { cat "$demo/logs/enqueue.log" >&2; exit 1; }
  sleep 1
done
echo "== progress (series of patient 00042 by MRI type; a re-run recomputes and rewrites the same rows)"
started=$(date +%s)
last=""
while true; do
  # A series is finished for this run once each model that runs on it computed its result after the start time, or
  # a failure of its stage was recorded after it: a re-run's rows already say classified before anything ran.
  row=$(sql "with r as (
               select r.mri_type, r.status, r.resnet3d_status,
                      exists (select 1 from series_predictions p where p.series_instance_uid = r.series_instance_uid
                                and p.model = 'nfnet-lstm' and p.computed_at >= '$t0')
                      or exists (select 1 from failures f where f.series_instance_uid = r.series_instance_uid
                                   and f.stage <> 'classify3d' and f.last_seen >= '$t0') as done_2d,
                      r.resnet3d_status is null
                      or exists (select 1 from series_predictions p where p.series_instance_uid = r.series_instance_uid
                                   and p.model = 'resnet3d' and p.computed_at >= '$t0')
                      or exists (select 1 from failures f where f.series_instance_uid = r.series_instance_uid
                                   and f.stage = 'classify3d' and f.last_seen >= '$t0') as done_3d
               from studies s join series r using (study_instance_uid) where s.patient_id = '00042')
             select coalesce(string_agg(mri_type || '=' || case when done_2d then status else 'working' end
                                        || coalesce('+3d:' || case when done_3d then resnet3d_status else 'working' end, ''),
                                        ' ' order by mri_type), 'waiting for ingest'),
                    count(*) filter (where done_2d and done_3d),
                    (select coalesce(max(n_series), 0) from studies where patient_id = '00042')
             from r")
  IFS='|' read -r status finished announced <<<"${row:-waiting for ingest|0|0}"
  status=${status:-waiting for ingest}
  if [[ $status != "$last" ]]; then
    printf '%4ds  %s\n' $(($(date +%s) - started)) "$status"
    last=$status
  fi
  ((${announced:-0} > 0 && ${finished:-0} >= ${announced:-0})) && break
  if (($(date +%s) - started > 1800)); then echo "demo: no result after 30 min; see $demo/logs" >&2; exit 1; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "demo: a worker exited; see $demo/logs" >&2; exit 1; }
  done
  sleep 2
done
sleep 1  # the reporter commits the patient row in the same transaction as the last series; let psql see it

echo "== result (patient_predictions, both models: nfnet-lstm = 2D, resnet3d = 3D)"
psql "$MGMT_PG_CONNINFO_READER" -X -c "select patient_id, model, round(probability::numeric, 4) as probability, n_types, n_chunks,
                                       coalesce(reason, '') as reason, computed_at
                                from patient_predictions where patient_id = '00042' order by model"
psql "$MGMT_PG_CONNINFO_READER" -X -c "select mri_type, model, round(probability::numeric, 4) as probability, n_chunks, coalesce(reason, '') as reason
                                from series_predictions where patient_id = '00042' order by mri_type, model"
psql "$MGMT_PG_CONNINFO_READER" -X -c "select patient_id, round(nfnet_lstm::numeric, 4) as nfnet_lstm, round(resnet3d::numeric, 4) as resnet3d,
                                       round(mean_probability::numeric, 4) as mean_probability
                                from patient_predictions_by_model where patient_id = '00042'"
# The failures table keeps every run's (and dead letters drained before the start time are recorded then too).
sql "select 'failures in this run: ' || count(*) filter (where last_seen >= '$t0') || ', on record from earlier: '
            || count(*) filter (where last_seen < '$t0') || ' (select * from failures)' from failures"

# The DICOM edge writes a SEG per segmented series and an SR for the study once it is done; without
# MGMT_DICOM_DESTINATION (AE@host:port of a PACS) they are only stored (README, "DICOM output").
study=$(sql "select study_instance_uid from studies where patient_id = '00042' limit 1")
for _ in $(seq 60); do (($(sql "select count(*) from dicom_outputs where study_instance_uid = '$study'") > 0)) && break; sleep 0.5; done
echo "== DICOM outputs (dicom_outputs)"
psql "$MGMT_PG_CONNINFO_READER" -X -c "select kind, status, coalesce(destination, '') as destination, store_key
                                from dicom_outputs where study_instance_uid = '$study' order by kind, store_key"

# The FLAIR series' preview (slices, mask outlines, kept slices, chunk probabilities) and the results page, which
# outlives the demo (read-only, loopback); a later demo run replaces it.
flair=$(sql "select series_instance_uid from series where patient_id = '00042' and mri_type = 'FLAIR' limit 1")
preview=$demo/preview-FLAIR.png
"$bin/reporter" preview "$flair" --out "$preview"
[[ -f $demo/serve.pid ]] && kill "$(cat "$demo/serve.pid")" 2>/dev/null || true
export MGMT_RESULTS_PORT=${MGMT_RESULTS_PORT:-8080}
nohup "$bin/reporter" serve >"$demo/logs/serve.log" 2>&1 &
echo $! >"$demo/serve.pid"
for _ in $(seq 50); do grep -qs "results page listening" "$demo/logs/serve.log" && break; sleep 0.2; done
echo
echo "query it yourself:"
echo "  source scripts/env.sh; psql \"\$MGMT_PG_CONNINFO_READER\" -c 'select * from patient_predictions'"
echo "workers stopped; servers still running (scripts/servers.sh stop)."
echo "preview of the FLAIR series: $preview"
echo "results page: http://127.0.0.1:$MGMT_RESULTS_PORT/ (reporter serve, pid $(cat "$demo/serve.pid"); stop: kill $(cat "$demo/serve.pid"))"
