# Sourced by scripts/bench-seg.sh and bench-cls.sh: the three engines' commands, side by side.
#   $reference  Python of the PyTorch reference stack (scripts/reference-python.sh)
#   $ort        Python with ONNX Runtime (scripts/onnxruntime-python.sh)
#   $onnx       directory of the models exported from the reference stack with the same seeded weights
#               (tools/reference/export_onnx.py; redone when the export or the weight scripts change)
#   run_ort ARGS...  tools/reference/bench_ort.py ARGS without this machine's OpenBLAS overrides: they are
#               meant for the Swift side's OpenBLAS, ONNX Runtime runs its own kernels (MLAS) picked on CPUID.
reference=$(scripts/reference-python.sh)
ort=$(scripts/onnxruntime-python.sh)
onnx=$MGMT_DATA_DIR/onnx
if [[ ! -s $onnx/eca_nfnet_l0.onnx || ! -s $onnx/segmentation.onnx ]] ||
   [[ tools/reference/export_onnx.py -nt $onnx/segmentation.onnx || tools/reference/seeded_weights.py -nt $onnx/segmentation.onnx ]]; then
  echo "exporting both models to ONNX in $onnx (once)" >&2
  "$reference" tools/reference/export_onnx.py "$onnx" 2>/dev/null >&2
  run_check=1
fi
run_ort() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$ort" tools/reference/bench_ort.py "$@"; }
if [[ -n ${run_check:-} ]]; then run_ort check "$onnx" >&2; fi
