#!/usr/bin/env bash
# Prints the path of a Python with the DICOM peers the tests talk to (pynetdicom as SCU, highdicom to read back
# SEG and SR, pylibjpeg to decode JPEG sources), building a venv on first use under $MGMT_DATA_DIR/dicom-python
# from PyPI. DICOM_PYTHON=DIR uses an existing environment instead.   usage: python=$(scripts/dicom-python.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/env.sh"
dir=${DICOM_PYTHON:-$MGMT_DATA_DIR/dicom-python}
check='import pynetdicom, highdicom, pydicom, numpy, pylibjpeg'
if [[ ! -x $dir/bin/python ]] || ! "$dir/bin/python" -c "$check" 2>/dev/null; then
  echo "building the DICOM peer environment in $dir (once)" >&2
  # Debian's python3 (python3-venv) rather than whatever python3 is first on PATH.
  /usr/bin/python3 -m venv "$dir" >&2
  "$dir/bin/python" -m pip install -q --disable-pip-version-check \
    'pynetdicom==3.0.4' 'highdicom==0.28.2' 'pydicom==3.0.2' 'numpy==2.0.2' \
    'pylibjpeg==2.1.0' 'pylibjpeg-libjpeg==2.5.0' >&2
  "$dir/bin/python" -c "$check" >&2
fi
echo "$dir/bin/python"
