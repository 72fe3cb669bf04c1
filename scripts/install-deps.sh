#!/usr/bin/env bash
# Installs the Debian packages mgmt-fleet needs; runs apt only when something is missing (idempotent).
set -euo pipefail
packages=(librabbitmq-dev libdcmtk-dev dcmtk libopenblas-dev libpq-dev libpng-dev pkgconf rabbitmq-server postgresql
          python3 python3-venv python3-numpy python3-pydicom python3-jsonschema python3-yaml python3-pil chromium
          dicom3tools)  # dciodvfy validates SEG/SR; venvs hold pynetdicom + highdicom and onnxruntime
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=(); [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "install-deps: swift is not on PATH (Swift 6.1 or newer is needed)" >&2; exit 1; }
