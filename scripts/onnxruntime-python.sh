#!/usr/bin/env bash
# Prints the path of a Python with ONNX Runtime (the third engine of scripts/bench-seg.sh and bench-cls.sh),
# building it on first use under $MGMT_DATA_DIR/ortenv: a plain venv of Debian's python3 with onnxruntime from
# PyPI and its own numpy, no PyTorch (the models come from tools/reference/export_onnx.py in the reference
# stack). ORTENV=DIR uses an existing environment instead.   usage: python=$(scripts/onnxruntime-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
version=1.23.2
dir=${ORTENV:-$MGMT_DATA_DIR/ortenv}
if ! "$dir/bin/python" -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$version')" 2>/dev/null; then
  echo "building the ONNX Runtime $version environment in $dir (once)" >&2
  /usr/bin/python3 -m venv "$dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "onnxruntime==$version" >&2
  "$dir/bin/python" -c "import onnxruntime, numpy" >&2
fi
echo "$dir/bin/python"
