#!/usr/bin/env bash
# Study-level benchmark: a generated study (four series of SLICES slices of SIZE², tools/testdata/make_study.py)
# through the offline stages (`ingest run`, `seg-worker run`, `cls-worker run`, 2 threads), next to the PyTorch
# reference pipeline on the same study and the same weights (tools/reference/study_reference.py: pydicom,
# albumentations, torch UNet++, T4E's classifier with the backbone per chunk), rounds alternating the two.
# Prints seconds per study and studies/hour for both, their ratio, each Swift stage's seconds and peak RSS
# (/usr/bin/time -v: memory is load-independent), and the load average (the machine may be shared).
# Both sides load one model directory: by default the DEMO weights (`cls-worker demo-weights`: seeded, with the
# whole-tumour output biased so that every slice reaches the classifier, as tumour slices do with trained
# weights; plain seeded weights find no tumour and leave the classifier stage idle), or --models DIR (a model
# directory as MGMT_MODELS holds, e.g. trained weights).
#   usage: scripts/bench-study.sh [--slices N (150)] [--size N (240)] [--rounds N (1)] [--threads N (2)] [--models DIR]
#   quick try: scripts/bench-study.sh --slices 12 --size 64
#   env: REFENV (see scripts/reference-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source scripts/env.sh
slices=150 size=240 rounds=1 threads=2 models=""
while (($#)); do
  case $1 in
    --slices) slices=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --models) models=$(cd "$2" && pwd); shift 2 ;;
    *) sed -n '2,14p' "$0" >&2; exit 2 ;;
  esac
done
reference=$(scripts/reference-python.sh)
swift build -c release --product ingest >/dev/null
swift build -c release --product seg-worker >/dev/null
swift build -c release --product cls-worker >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 tools/testdata/make_study.py --out "$work/export" --patient 00150 --slices "$slices" --size "$size" >/dev/null
study=$work/export/00150
if [[ -z $models ]]; then
  models=$work/models
  "$bin/cls-worker" demo-weights "$models" >/dev/null
fi
results=$work/results.jsonl

# timed NAME COMMAND...: runs COMMAND under /usr/bin/time -v, appends {"stage", "seconds", "peak_rss_mb"}.
timed() {
  local name=$1; shift
  /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; exit 1; }
  awk -v stage="$name" -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
    /Maximum resident set size/ { rss = $2 / 1024 }
    END { printf "{\"stage\": \"%s\", \"seconds\": %.3f, \"peak_rss_mb\": %.1f}\n", stage, s, rss }' "$work/time.txt" >>"$results"
}

echo "study: 4 series x $slices slices of ${size}x${size}; $threads threads; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; round++)); do
  rm -rf "$work/offline"
  timed ingest "$bin/ingest" run "$study" --out "$work/offline" --threads "$threads"
  timed segment "$bin/seg-worker" run "$work/offline" --models "$models" --threads "$threads"
  timed classify "$bin/cls-worker" run "$work/offline" --models "$models" --threads "$threads" --json
  cp "$work/classify.out" "$work/swift-result.json"
  "$reference" tools/reference/study_reference.py run "$study" "$threads" "$models" >>"$results"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" "$rounds" "$work/swift-result.json" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rounds = int(sys.argv[2])
stages = ("ingest", "segment", "classify")
swift = [sum(r["seconds"] for r in rows[i * 4:i * 4 + 3]) for i in range(rounds)]
reference = [r for r in rows if r.get("engine") == "pytorch-reference"]
best_swift, best_ref = min(swift), min(r["seconds"] for r in reference)
print(f"{'pipeline':<28} {'s/study':>8} {'studies/h':>10}")
print(f"{'swift offline stages':<28} {best_swift:8.1f} {3600 / best_swift:10.1f}")
print(f"{'pytorch reference':<28} {best_ref:8.1f} {3600 / best_ref:10.1f}")
print(f"ratio (reference s / swift s, best of {rounds}): {best_ref / best_swift:.2f}; per round: "
      + ", ".join(f"{r['seconds'] / s:.2f}" for r, s in zip(reference, swift)))
for stage in stages:
    timings = [r for r in rows if r.get("stage") == stage]
    print(f"  swift {stage:<9} {min(t['seconds'] for t in timings):7.1f} s   peak RSS {max(t['peak_rss_mb'] for t in timings):7.0f} MB"
          f"   reference {min(r['stages'][stage] for r in reference):7.1f} s")
swift_result = json.load(open(sys.argv[3]))
kept = {s["mri_type"]: len(s["kept"]) for s in swift_result["series"]}
print("kept slices per series, swift / reference: " + ", ".join(
    f"{k} {kept.get(k, '-')}/{v['kept']}" for k, v in reference[-1]["series"].items()))
print(f"patient probability, swift / reference: {swift_result.get('probability')} / {reference[-1]['probability']}")
if not any(kept.values()):
    print("note: no slice passed the selection, so neither classifier ran")
PY
