"""The classifier stage of T4E (gallegi/T4E_MICCAI_BrainTumor, inference_on_test.py) as the reference computes it,
with OpenCV, albumentations 1.1.0 and PyTorch: slice selection, frames, chunks (with the float-zero padding quirk),
test-time augmentation and BrainSequenceModelNFNet. Imported by cls_fixtures.py and bench_cls.py.
"""
import cv2
import numpy as np
import albumentations as A
import timm
import torch
from albumentations.pytorch.transforms import ToTensorV2
from torch import nn

SEQ_LEN = 35
STRIDE = 5
LSTM_HIDDEN = 128
MIN_AREA_RATIO = 0.025  # the value inference_on_test.py passes to has_good_features
MAX_WT_CONTOURS = 5


# ---------------------------------------------------------------- slice selection
def contour_areas(binary):
    contours, _ = cv2.findContours(binary, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_NONE)
    return [float(cv2.contourArea(c)) for c in contours]


def selection(image_u8, wt_mask_u8):
    """has_good_features with its thresholds; returns the decision and the numbers behind it.

    Where the reference raises (no brain contour: max() of nothing; brain area 0: division by zero), its process
    pool drops the slice: that is "not kept" here."""
    _, brain = cv2.threshold(image_u8, 1, 255, cv2.THRESH_BINARY)
    brain_areas = contour_areas(brain)
    _, wt = cv2.threshold(wt_mask_u8, 0.5, 1, cv2.THRESH_BINARY)
    wt_areas = contour_areas(wt)
    brain_area = max(brain_areas) if brain_areas else 0.0
    wt_area = max(wt_areas) if wt_areas else 0.0
    keep = (len(wt_areas) > 0 and brain_area > 0
            and wt_area / brain_area > MIN_AREA_RATIO and len(wt_areas) <= MAX_WT_CONTOURS)
    return dict(keep=bool(keep), brain_contours=len(brain_areas), brain_area=brain_area,
                wt_contours=len(wt_areas), wt_area=wt_area)


# ---------------------------------------------------------------- chunks and frames
def chunk_ranges(length):
    """chunk_slices over indices 0..length-1."""
    n = max(int(np.ceil((length - SEQ_LEN) / STRIDE) + 1), 1)
    return [(i * STRIDE, min(i * STRIDE + SEQ_LEN, length)) for i in range(n)]


def frame(image_u8, wt_u8, et_u8):
    """The 3-channel image sampling_one_image saves: (slice, WT·255, ET·255), uint8."""
    return np.stack([image_u8, wt_u8 * np.uint8(255), et_u8 * np.uint8(255)], axis=-1)


def transforms(tta):
    """get_clf_transforms (tta 'zoom'), or the same without the affine zoom (tta 'none')."""
    steps = [A.augmentations.geometric.transforms.Affine(scale=1.2, always_apply=True)] if tta == "zoom" else []
    steps += [A.Resize(width=224, height=224, always_apply=True), A.Normalize(), ToTensorV2(p=1.0)]
    return A.Compose(steps, additional_targets={f"image{i}": "image" for i in range(SEQ_LEN - 1)})


def chunk_tensor(frames, tta):
    """BrainClassification2DDataset.__getitem__: stack, pad with float64 zeros (which turns the whole chunk into
    float64, so OpenCV takes its float paths), transform every frame with one shared set of parameters."""
    images = np.stack(frames, axis=0)
    if images.shape[0] < SEQ_LEN:
        pad = np.zeros(shape=(SEQ_LEN - images.shape[0],) + images.shape[1:])
        images = np.concatenate([images, pad], axis=0)
    named = {("image" if i == 0 else f"image{i - 1}"): images[i] for i in range(len(images))}
    out = transforms(tta)(**named)
    return torch.stack([out["image" if i == 0 else f"image{i - 1}"] for i in range(len(images))], 0)


# ---------------------------------------------------------------- model
class BrainSequenceModelNFNet(nn.Module):
    """T4E's model: timm backbone without classifier, BiLSTM over the 35 frames, linear head on all outputs."""

    def __init__(self):
        super().__init__()
        self.backbone = timm.create_model("eca_nfnet_l0", pretrained=False)
        features = self.backbone.head.fc.in_features
        self.backbone.head.fc = nn.Identity()
        self.lstm = nn.LSTM(features, LSTM_HIDDEN, num_layers=1, batch_first=True, bidirectional=True)
        self.clf_head = nn.Linear(LSTM_HIDDEN * 2 * SEQ_LEN, 1)

    def forward(self, x):
        n, t = x.shape[:2]
        embeddings = self.backbone(x.reshape((n * t,) + x.shape[2:])).reshape(n, t, -1)
        return self.head(embeddings)

    def head(self, embeddings):
        sequence, _ = self.lstm(embeddings)
        return self.clf_head(sequence.reshape(sequence.shape[0], -1))


def classify_series(model, frames, tta):
    """Chunk probabilities of one series as the reference computes them (backbone run for every chunk)."""
    probabilities = []
    modes = ["zoom", "none"] if tta == "zoom+none" else [tta]
    for start, end in chunk_ranges(len(frames)):
        p = []
        for mode in modes:
            with torch.no_grad():
                p.append(float(torch.sigmoid(model(chunk_tensor(frames[start:end], mode)[None]))[0, 0]))
        probabilities.append(sum(p) / len(p))
    return probabilities
