#!/usr/bin/env bash
# Builds the libFuzzer target over CDicom (tools/fuzz/dicom_fuzzer.cpp) with AddressSanitizer and
# UndefinedBehaviorSanitizer, using the Swift toolchain's clang (it ships the libFuzzer runtime).
# Usage: tools/fuzz/build.sh [OUT]   (default .build/fuzz/dicom_fuzzer). Then: tools/fuzz/run.sh SECONDS
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.build/fuzz/dicom_fuzzer}
clang=${FUZZ_CLANG:-$(dirname "$(readlink -f "$(command -v swift)")")/clang++}
mkdir -p "$(dirname "$out")"
"$clang" -std=c++17 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fuse-ld=lld -Wno-deprecated-declarations \
    -I"$repo/Sources/CDicom/include" \
    "$repo/tools/fuzz/dicom_fuzzer.cpp" "$repo/Sources/CDicom/dicom_file.cpp" "$repo/Sources/CDicom/codecs.cpp" \
    -ldcmimage -ldcmimgle -ldcmjpeg -ldcmjpls -ldcmdata -loflog -lofstd \
    -o "$out"
echo "$out"
