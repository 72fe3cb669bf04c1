#!/usr/bin/env bash
# Prints the path of a Python with the PyTorch reference stack (for side-by-side benchmarks and fixture
# scripts), building it on first use under $MGMT_DATA_DIR/refenv with ../shared/tools/reference-env.sh.
# REFENV=DIR uses an existing environment instead.   usage: python=$(scripts/reference-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
dir=${REFENV:-$MGMT_DATA_DIR/refenv}
if [[ ! -x $dir/bin/python ]] || ! "$dir/bin/python" -c "import torch, timm, segmentation_models_pytorch" 2>/dev/null; then
  builder=$here/../../shared/tools/reference-env.sh
  [[ -x $builder ]] || { echo "no reference environment at $dir and no $builder to build one (set REFENV=DIR)" >&2; exit 1; }
  echo "building the PyTorch reference environment in $dir (once)" >&2
  # The shared builder's final import check fails on segmentation_models_pytorch's missing tqdm: install it
  # and check the stack here instead.
  "$builder" "$dir" >&2 || true
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps tqdm >&2
  "$dir/bin/python" -c "import torch, timm, segmentation_models_pytorch, albumentations, cv2" >&2
fi
echo "$dir/bin/python"
