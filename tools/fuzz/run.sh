#!/usr/bin/env bash
# Runs the CDicom libFuzzer target for SECONDS of wall time at the lowest priority, seeded with the DICOM test
# fixtures (every transfer syntax DCMTK decodes, the bad and invalid-header files). The growing corpus stays in .build/fuzz/corpus; a crash, leak or timeout leaves its input in
# .build/fuzz/ (crash-*, leak-*, timeout-*) and makes this script fail.
# Usage: tools/fuzz/run.sh [SECONDS]   (default 600)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-600}
work=$repo/.build/fuzz
binary=$("$repo/tools/fuzz/build.sh" "$work/dicom_fuzzer" | tail -n 1)
mkdir -p "$work/corpus"
for seed in "$repo"/Tests/DICOMTests/Fixtures/*.dcm "$repo"/Tests/DICOMTests/Fixtures/invalid/*.dcm; do
  cp -n "$seed" "$work/corpus/seed-$(basename "$seed")"
done
cd "$work"
nice -n 19 "$binary" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/"
