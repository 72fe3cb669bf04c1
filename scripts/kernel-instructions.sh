#!/usr/bin/env bash
# Instructions per CKernels kernel and variant, counted by callgrind (exact and independent of the machine's
# load), on one 256×56×56 plane each (tools/kernels/instruction_counts.c). Valgrind 3.19 does not emulate
# AVX-512, so under it the CPU reports AVX2 at most: the AVX-512 variant is checked by the tests, not counted.
#   usage: scripts/kernel-instructions.sh        (needs valgrind: apt-get install valgrind)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -O2, as SwiftPM's release build compiles C targets.
clang -O2 -I Sources/CKernels/include Sources/CKernels/kernels.c tools/kernels/instruction_counts.c -o "$work/counts" -lpthread
printf '%-10s %14s %14s %14s %14s %14s\n' variant silu sigmoid bias_relu scale_add sum
for variant in portable avx2; do
  MGMT_KERNELS=$variant valgrind --tool=callgrind --callgrind-out-file="$work/$variant.out" "$work/counts" >"$work/$variant.txt" 2>/dev/null
  grep -q "^$variant " "$work/$variant.txt" || { echo "$variant: not run (CPU: $(cat "$work/$variant.txt"))" >&2; continue; }
  callgrind_annotate --inclusive=yes "$work/$variant.out" >"$work/$variant.annotate"
  counts=()
  for kernel in silu sigmoid bias_relu scale_add sum; do
    counts+=("$(awk -v f="${kernel}_$variant" '$0 ~ "[:]" f " " || $0 ~ "[:]" f "$" {gsub(",", "", $1); print $1; exit}' "$work/$variant.annotate")")
  done
  printf '%-10s %14s %14s %14s %14s %14s\n' "$variant" "${counts[@]}"
done
