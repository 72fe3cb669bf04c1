"""Convert a PyTorch checkpoint (.pth / .ckpt) to safetensors with PyTorch's own key names, as the Swift engine
loads them.

usage: convert_checkpoint.py IN.pth OUT.safetensors [--check segmentation | --check classifier3d [--depth 18|34]]

A checkpoint that wraps its state_dict ({"state_dict": ...} or {"model": ...}) or was saved from DataParallel
("module." prefixes) is unwrapped. With --check the keys and shapes must equal the model's exactly, else the script
names the differences and exits 1:
- segmentation: smp's UnetPlusPlus(densenet121, classes=2) (T4E's Fold0_densenet121_2d_segment.pth);
- classifier3d: MONAI's resnet18/34(spatial_dims=3, n_input_channels=1, num_classes=1), the 3D classifier's
  classifier3d-<type>.safetensors. Accepted: a MONAI state_dict; a Lightning checkpoint of the baseline's
  LitBrainMRI (its "net." prefix is dropped); a MedicalNet resnet_18*/resnet_34*.pth ("module." prefixes, its
  segmentation head conv_seg dropped). MedicalNet's parts that MONAI's resnet has in another form are written as
  the same function: a shortcut without a convolution (MedicalNet's type A: stride, then zero channels) as a
  1x1x1 identity-embedding convolution with an identity batch norm; a shortcut convolution without bias with a
  zero bias; a missing num_batches_tracked as 0. MedicalNet has no classification head: fc is written as zeros
  (every probability 0.5) and the script says so loudly: such a file is a backbone to fine-tune, not a classifier.
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


def expected_classifier3d_state(depth):
    from monai.networks.nets import resnet18, resnet34

    model = {18: resnet18, 34: resnet34}[depth](spatial_dims=3, n_input_channels=1, num_classes=1)
    return model.state_dict()


def as_classifier3d(state, depth):
    """The checkpoint's tensors under MONAI's key names (see the module's docstring); notes on what was filled."""
    expected = expected_classifier3d_state(depth)
    state = {k[len("net."):] if k.startswith("net.") else k: v for k, v in state.items()}
    if not any(k.startswith("conv_seg.") for k in state):
        return state, []
    notes = []
    state = {k: v for k, v in state.items() if not k.startswith("conv_seg.")}
    given = set(state)
    for key, value in expected.items():
        if key in state:
            continue
        prefix, name = key.rsplit(".", 1)
        if ".downsample.0" in key and name == "weight":
            out_channels, in_channels = value.shape[:2]
            identity = torch.zeros(value.shape)
            identity[torch.arange(in_channels), torch.arange(in_channels)] = 1
            state[key] = identity
            notes.append(f"{prefix}: shortcut type A written as a 1x1x1 identity-embedding convolution")
        elif ".downsample.0" in key and name == "bias":
            state[key] = torch.zeros(value.shape)
        elif ".downsample.1" in key and prefix.replace("downsample.1", "downsample.0") + ".weight" not in given:
            state[key] = {"weight": torch.ones(value.shape), "bias": torch.zeros(value.shape),
                          "running_mean": torch.zeros(value.shape), "running_var": torch.ones(value.shape) - 1e-5,
                          "num_batches_tracked": torch.tensor(0)}[name]
        elif name == "num_batches_tracked":
            state[key] = torch.tensor(0)
        elif prefix == "fc":
            state[key] = torch.zeros(value.shape)
            if name == "weight":
                notes.append("NO CLASSIFICATION HEAD in a MedicalNet checkpoint: fc is zero, every probability is 0.5")
    return state, notes


def check(state, expected):
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k]))
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if keys:
            print(f"{label}: {len(keys)} key(s), e.g. {keys[:5]}", file=sys.stderr)
    if missing or unexpected or wrong:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--check", choices=["segmentation", "classifier3d"],
                        help="insist on this model's exact key set and shapes")
    parser.add_argument("--depth", type=int, choices=[18, 34], default=18, help="classifier3d: resnet18 or resnet34")
    args = parser.parse_args()

    state = load_state_dict(args.input)
    metadata = {"format": "pt", "source": args.input.rsplit("/", 1)[-1]}
    if args.check == "segmentation":
        check(state, expected_segmentation_shapes())
    elif args.check == "classifier3d":
        state, notes = as_classifier3d(state, args.depth)
        expected = expected_classifier3d_state(args.depth)
        check(state, {k: v.shape for k, v in expected.items()})
        # Same dtypes as MONAI's own state_dict (float32 parameters, int64 num_batches_tracked).
        state = {k: v.to(expected[k].dtype) for k, v in state.items()}
        for note in notes:
            print(f"NOTE: {note}", file=sys.stderr)
        if notes:
            metadata["converted"] = "; ".join(notes)
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    save_file(tensors, args.output, metadata=metadata)
    digest = hashlib.sha256(open(args.output, "rb").read()).hexdigest()
    print(f"wrote {len(tensors)} tensors to {args.output} (sha256 {digest})")


if __name__ == "__main__":
    main()
