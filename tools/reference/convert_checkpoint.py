"""Convert a PyTorch checkpoint (.pth state_dict, e.g. T4E's Fold0_densenet121_2d_segment.pth) to safetensors with
PyTorch's own key names, as the Swift engine loads them.

usage: convert_checkpoint.py IN.pth OUT.safetensors [--check segmentation]

A checkpoint that wraps its state_dict ({"state_dict": ...} or {"model": ...}) or was saved from DataParallel
("module." prefixes) is unwrapped. With --check segmentation the keys and shapes must equal smp's
UnetPlusPlus(densenet121, classes=2)'s exactly, else the script names the differences and exits 1.
"""
import argparse
import hashlib
import sys

import torch
from safetensors.torch import save_file


def load_state_dict(path):
    checkpoint = torch.load(path, map_location="cpu")
    for wrapper in ("state_dict", "model"):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(wrapper), dict):
            checkpoint = checkpoint[wrapper]
    if not isinstance(checkpoint, dict) or not all(torch.is_tensor(v) for v in checkpoint.values()):
        raise SystemExit(f"{path}: not a state_dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint.items()}


def expected_segmentation_shapes():
    from segmentation_models_pytorch import UnetPlusPlus

    model = UnetPlusPlus(encoder_name="densenet121", encoder_depth=5, encoder_weights=None, classes=2,
                         activation="sigmoid")
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--check", choices=["segmentation"], help="insist on this model's exact key set and shapes")
    args = parser.parse_args()

    state = load_state_dict(args.input)
    if args.check == "segmentation":
        expected = expected_segmentation_shapes()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                print(f"{label}: {len(keys)} key(s), e.g. {keys[:5]}", file=sys.stderr)
        if missing or unexpected or wrong:
            sys.exit(1)
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    save_file(tensors, args.output, metadata={"format": "pt", "source": args.input.rsplit("/", 1)[-1]})
    digest = hashlib.sha256(open(args.output, "rb").read()).hexdigest()
    print(f"wrote {len(tensors)} tensors to {args.output} (sha256 {digest})")


if __name__ == "__main__":
    main()
