#!/usr/bin/env bash
# Prints the path of a Python with the PyTorch reference stack (for side-by-side benchmarks and fixture
# scripts), building it on first use under $MGMT_DATA_DIR/refenv. REFENV=DIR uses (or builds) DIR instead.
#   usage: python=$(scripts/reference-python.sh)
# The stack: Debian's CPU PyTorch 1.13 and NumPy, plus pinned timm, segmentation_models_pytorch, albumentations
# 1.1.0 (the version the reference solution used), OpenCV 4.8.1, pydicom and safetensors, and MONAI 1.4.0 (the 3D
# classifier's reference, installed without its dependencies beside torch 1.13; MONAI 1.5 needs torch 2.4). Needs root for
# apt-get on the first build; re-running only fills in what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
dir=${REFENV:-$MGMT_DATA_DIR/refenv}
if [[ ! -x $dir/bin/python ]] || ! "$dir/bin/python" -c "import torch, timm, segmentation_models_pytorch, monai" 2>/dev/null; then
  echo "building the PyTorch reference environment in $dir (once)" >&2
  need=()
  for p in python3-torch python3-torchvision python3-venv python3-numpy; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if ((${#need[@]})); then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  fi
  [[ -x $dir/bin/python ]] || /usr/bin/python3 -m venv --system-site-packages "$dir"
  # torch and numpy come from Debian; everything is pinned and installed without dependencies so that pip
  # never replaces them.
  pip=("$dir/bin/python" -m pip install -q --disable-pip-version-check --no-deps)
  "${pip[@]}" timm==0.9.16 segmentation-models-pytorch==0.3.3 pretrainedmodels==0.7.4 efficientnet-pytorch==0.7.1 \
    safetensors==0.8.0 munch tqdm==4.66.5 >&2
  "${pip[@]}" albumentations==1.1.0 qudida==0.0.4 opencv-python-headless==4.8.1.78 scikit-image==0.21.0 \
    scikit-learn==1.3.2 scipy==1.11.4 PyWavelets==1.4.1 tifffile==2023.12.9 imageio==2.34.2 networkx==3.2.1 \
    lazy_loader==0.4 PyYAML==6.0.2 joblib==1.3.2 threadpoolctl==3.2.0 packaging >&2
  "${pip[@]}" pydicom==3.0.2 pylibjpeg==2.0.1 pylibjpeg-libjpeg==2.3.0 >&2
  "${pip[@]}" monai==1.4.0 >&2
  "$dir/bin/python" -c "import torch, timm, segmentation_models_pytorch, albumentations, cv2, pydicom, safetensors, monai" >&2
fi
echo "$dir/bin/python"
