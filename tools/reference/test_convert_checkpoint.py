"""Tests of convert_checkpoint.py --check classifier3d on checkpoints made here (run with the reference stack:
"$(scripts/reference-python.sh)" tools/reference/test_convert_checkpoint.py). Each converted file must hold exactly
MONAI's keys and shapes, and the same function as the checkpoint's network."""
import os
import subprocess
import sys
import tempfile
import unittest

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cls3d_reference as ref  # noqa: E402


def seeded_state(depth, seed=11):
    return ref.build_model(ref.configuration(depth=depth), seed).state_dict()


def medicalnet(state, shortcut):
    """A MedicalNet-style checkpoint of `state`: "module." keys, a conv_seg head instead of fc, no
    num_batches_tracked (PyTorch 0.4), and shortcuts of type A (no downsample) or B (convolution without bias)."""
    result = {}
    for key, value in state.items():
        if key.startswith("fc.") or key.endswith("num_batches_tracked") or key.endswith("downsample.0.bias"):
            continue
        if shortcut == "A" and ".downsample." in key:
            continue
        result["module." + key] = value
    result["module.conv_seg.0.weight"] = torch.ones(32, 512, 3, 3, 3)
    result["module.conv_seg.1.weight"] = torch.ones(32)
    return {"state_dict": result, "epoch": 200}


class ConvertClassifier3DTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.directory.cleanup()

    def convert(self, checkpoint, depth=18):
        source = os.path.join(self.directory.name, "in.pth")
        target = os.path.join(self.directory.name, "classifier3d-FLAIR.safetensors")
        torch.save(checkpoint, source)
        run = subprocess.run([sys.executable, os.path.join(HERE, "convert_checkpoint.py"), source, target, "--check",
                              "classifier3d", "--depth", str(depth)], capture_output=True, text=True)
        return run, (load_file(target) if run.returncode == 0 else None)

    def assert_monai_keys(self, converted, depth):
        expected = ref.build_model(ref.configuration(depth=depth)).state_dict()
        self.assertEqual(set(converted), set(expected))
        for key, value in expected.items():
            self.assertEqual(converted[key].shape, value.shape, key)
            self.assertEqual(converted[key].dtype, value.dtype, key)

    def test_lightning_checkpoint_is_copied_key_by_key(self):
        state = seeded_state(18)
        run, converted = self.convert({"state_dict": {"net." + k: v for k, v in state.items()}, "epoch": 3,
                                       "hyper_parameters": {"lr": 1e-3}})
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assert_monai_keys(converted, 18)
        for key, value in state.items():
            self.assertTrue(torch.equal(converted[key], value), key)
        self.assertNotIn("NOTE", run.stderr)

    def test_medicalnet_type_a_shortcuts_become_the_same_function(self):
        state = seeded_state(18)
        run, converted = self.convert(medicalnet(state, "A"))
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assert_monai_keys(converted, 18)
        self.assertIn("NO CLASSIFICATION HEAD", run.stderr)
        for key, value in state.items():
            if ".downsample." not in key and not key.startswith("fc.") and not key.endswith("num_batches_tracked"):
                self.assertTrue(torch.equal(converted[key], value), key)
        self.assertEqual(float(converted["fc.weight"].abs().sum()), 0)
        model = ref.build_model(ref.configuration(depth=18))
        model.load_state_dict(converted)
        x = torch.rand(1, 64, 9, 8, 7)
        with torch.no_grad():
            shortcut = model.layer2[0].downsample(x)
        type_a = F.pad(F.avg_pool3d(x, kernel_size=1, stride=2), (0, 0, 0, 0, 0, 0, 0, 64))
        self.assertLess(float((shortcut - type_a).abs().max()), 1e-6)

    def test_medicalnet_type_b_resnet34_gets_zero_shortcut_biases(self):
        state = seeded_state(34)
        run, converted = self.convert(medicalnet(state, "B"), depth=34)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assert_monai_keys(converted, 34)
        self.assertTrue(torch.equal(converted["layer3.0.downsample.0.weight"], state["layer3.0.downsample.0.weight"]))
        self.assertEqual(float(converted["layer3.0.downsample.0.bias"].abs().sum()), 0)

    def test_wrong_shape_missing_and_unexpected_keys_fail(self):
        state = seeded_state(18)
        wrong = dict(state, **{"layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3)})
        extra = dict(state, **{"head.weight": torch.zeros(1)})
        missing = {k: v for k, v in state.items() if k != "layer4.1.bn2.running_var"}
        for checkpoint, label in ((wrong, "wrong shape"), (extra, "unexpected"), (missing, "missing")):
            run, _ = self.convert(checkpoint)
            self.assertEqual(run.returncode, 1, label)
            self.assertIn(label, run.stderr)
        run, _ = self.convert(state, depth=34)  # a resnet18 is not a resnet34
        self.assertEqual(run.returncode, 1)


if __name__ == "__main__":
    unittest.main()
