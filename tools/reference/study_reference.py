"""The reference pipeline on a whole DICOM study, for scripts/bench-study.sh: what `ingest run`, `seg-worker run`
and `cls-worker run` do, the way T4E does it (pydicom + NumPy, albumentations + PyTorch UNet++, OpenCV slice
selection + ECA-NFNet-L0/BiLSTM with the backbone recomputed for every chunk), on the weights the Swift side
loads from the same model directory.

  study_reference.py run STUDY THREADS [MODELS]
                                             runs the pipeline on STUDY/<type>/ DICOM folders (seeded weights, or
                                             MODELS/segmentation.safetensors and classifier-<type>.safetensors);
                                             one JSON line with seconds per stage and the patient probability
"""
import json
import os
import sys
import time

import numpy as np
import pydicom
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cls_fixtures  # noqa: E402
import cls_reference as ref  # noqa: E402
import seg_fixtures  # noqa: E402

MRI_TYPES = ("FLAIR", "T1w", "T1wCE", "T2w")
SEG_BATCH = 8


def ingest(series_dir):
    """Order by InstanceNumber, drop empty slices (T4E: > 10 % of pixels > 0), min-max normalise to 0–255."""
    datasets = [pydicom.dcmread(os.path.join(series_dir, name)) for name in os.listdir(series_dir)]
    datasets.sort(key=lambda d: int(d.InstanceNumber))
    slices = [d.pixel_array.astype(np.float64) * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))
              for d in datasets]
    kept = np.stack([s for s in slices if (s > 0).sum() / s.size > 0.1])
    low, high = kept.min(), kept.max()
    return ((kept - low) / (high - low) * 255).astype(np.float32)


def segment(model, image):
    """Whole-tumour and enhancing masks per slice: T4E's transform, sigmoid > 0.5, inverse transform."""
    height, width = image.shape[1:]
    masks = np.zeros((len(image), 2, height, width), np.uint8)
    for start in range(0, len(image), SEG_BATCH):
        batch = torch.from_numpy(np.stack([seg_fixtures.preprocess(s) for s in image[start:start + SEG_BATCH]]))
        with torch.no_grad():
            predicted = (model(batch) > 0.5).numpy().astype(np.uint8)  # the model ends in a sigmoid
        for i, mask in enumerate(predicted):
            for c in range(2):
                masks[start + i, c] = seg_fixtures.postprocess(mask[c], width, height)
    return masks


def classify(model, image, masks):
    image_u8 = image.astype(np.uint8)
    kept = [i for i in range(len(image_u8)) if ref.selection(image_u8[i], masks[i, 0])["keep"]]
    if not kept:
        return None, 0
    frames = [ref.frame(image_u8[i], masks[i, 0], masks[i, 1]) for i in kept]
    return float(np.mean(ref.classify_series(model, frames, "zoom"))), len(kept)


def loaded(model, path):
    from safetensors.torch import load_file
    model.load_state_dict(load_file(path))
    return model.eval()


def run(study, threads, models=None):
    torch.set_num_threads(threads)
    segmenter = seg_fixtures.build_model()
    if models:
        segmenter = loaded(segmenter, os.path.join(models, "segmentation.safetensors"))
    seconds = {"ingest": 0.0, "segment": 0.0, "classify": 0.0}
    series = {}
    for mri_type in MRI_TYPES:
        directory = os.path.join(study, mri_type)
        if not os.path.isdir(directory):
            continue
        classifier = (loaded(ref.BrainSequenceModelNFNet(), os.path.join(models, f"classifier-{mri_type}.safetensors"))
                      if models else cls_fixtures.seeded_model())
        t0 = time.perf_counter()
        image = ingest(directory)
        t1 = time.perf_counter()
        masks = segment(segmenter, image)
        t2 = time.perf_counter()
        probability, kept = classify(classifier, image, masks)
        t3 = time.perf_counter()
        seconds["ingest"] += t1 - t0
        seconds["segment"] += t2 - t1
        seconds["classify"] += t3 - t2
        series[mri_type] = {"slices": len(image), "kept": kept, "probability": probability}
    probabilities = [s["probability"] for s in series.values() if s["probability"] is not None]
    print(json.dumps({"engine": "pytorch-reference", "threads": threads, "seconds": sum(seconds.values()),
                      "stages": seconds, "series": series,
                      "probability": float(np.mean(probabilities)) if probabilities else None}))


if __name__ == "__main__":
    if len(sys.argv) in (4, 5) and sys.argv[1] == "run":
        run(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        sys.exit(__doc__)
