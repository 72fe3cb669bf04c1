"""Exports both models with their seeded weights (the same values the Swift side builds, see seeded_weights.py)
to ONNX (opset 13) with torch.onnx, for the ONNX Runtime side of scripts/bench-seg.sh and scripts/bench-cls.sh.

  export_onnx.py OUT_DIR     writes OUT_DIR/segmentation.onnx (UNet++/DenseNet121, N×3×224×224 → N×2×224×224)
                             and OUT_DIR/eca_nfnet_l0.onnx (the classifier's backbone, N×3×224×224 → N×2304),
                             both with a dynamic batch axis, and checks each against PyTorch on two images.
Run with the reference stack (scripts/reference-python.sh). Prints one JSON line.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cls_fixtures  # noqa: E402
import seg_fixtures  # noqa: E402
from seeded_weights import uniform  # noqa: E402

OPSET = 13
SIDE = 224


def export(model, path, output_name):
    model.eval()
    example = torch.from_numpy(uniform("export.input", 2 * 3 * SIDE * SIDE, -2.0, 2.0, 1).reshape(2, 3, SIDE, SIDE))
    with torch.no_grad():
        expected = model(example).numpy()
        torch.onnx.export(model, example, path, opset_version=OPSET, input_names=["input"],
                          output_names=[output_name],
                          dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}})
    return example.numpy(), expected


def main(out):
    os.makedirs(out, exist_ok=True)
    written = {}
    for name, model, output_name in (
        ("segmentation", seg_fixtures.build_model(), "logits"),
        ("eca_nfnet_l0", cls_fixtures.seeded_model().backbone, "embedding"),
    ):
        path = os.path.join(out, name + ".onnx")
        example, expected = export(model, path, output_name)
        # Kept next to the model so that the ONNX Runtime side (its own venv, no torch) can check its output.
        np.save(os.path.join(out, name + ".check-input.npy"), example)
        np.save(os.path.join(out, name + ".check-output.npy"), expected)
        written[name] = {"path": path, "bytes": os.path.getsize(path), "output": list(expected.shape)}
    print(json.dumps({"opset": OPSET, "torch": torch.__version__, "models": written}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
