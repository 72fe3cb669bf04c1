"""Parity fixtures for the classifier stage (Tests/ClassificationTests/Fixtures).

usage: "$(scripts/reference-python.sh)" tools/reference/cls_fixtures.py [OUT_DIR]

Writes small files only: the weights are regenerated on both sides by seeded_weights (engine), with the value
ranges of classifier_rule below (the Swift side uses the same ranges: SequenceClassifier.seededRule).
- keys.json            BrainSequenceModelNFNet's state_dict keys and shapes
- chunks.json          the reference's chunk ranges for a few series lengths
- selection/           binary shapes + images and has_good_features' numbers and decisions
- embeddings/          backbone inputs (seeded), the padding frame, and their 2304-d embeddings
- head.json            LSTM + head probabilities on seeded embedding sequences (full and padded chunks)
- series/              a small synthetic study (ingest + seg-worker outputs), the reference's result, and one
                       frame through both OpenCV paths
"""
import json
import math
import os
import sys

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cls_reference as ref  # noqa: E402
import seeded_weights  # noqa: E402  (engine: bit-identical to Swift's SeededWeights)

BASE_SEED = 0x5EED_C1A5
EMBEDDING_INPUTS = 2


def classifier_rule(key, shape):
    """Value range per state_dict key. Conv weights are standardised at use, so their range is immaterial; gains
    must be non-zero (timm starts conv3 gains at 0, which would switch every residual branch off)."""
    name = key.rsplit(".", 1)[-1]
    if key.startswith("lstm."):
        bound = 1 / math.sqrt(ref.LSTM_HIDDEN)  # PyTorch's own LSTM initialisation range
        return -bound, bound
    if key == "clf_head.weight":
        return -0.08, 0.08  # large enough that chunk logits spread over a few units
    if name == "gain":
        return 0.5, 1.5
    if name == "bias":
        return -0.1, 0.1
    fan_in = int(np.prod(shape[1:]))
    bound = math.sqrt(3 / fan_in)
    return -bound, bound


def seeded_model():
    model = ref.BrainSequenceModelNFNet().eval()
    state = {}
    for key, value in model.state_dict().items():
        low, high = classifier_rule(key, list(value.shape))
        state[key] = torch.from_numpy(
            seeded_weights.uniform(key, value.numel(), low, high, BASE_SEED).reshape(value.shape))
    model.load_state_dict(state)
    return model


def save_npy(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(array))


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f, indent=None if path.endswith("keys.json") else 1)
        f.write("\n")


# ---------------------------------------------------------------- chunks
def chunks_fixture(out):
    lengths = [1, 34, 35, 36, 40, 41, 200]
    write_json(f"{out}/chunks.json", [{"length": n, "chunks": [list(r) for r in ref.chunk_ranges(n)]}
                                      for n in lengths])


# ---------------------------------------------------------------- selection
def selection_cases():
    """(name, image uint8, WT mask {0,1}) on 48×56: the awkward shapes for selection (empty,
    holes in holes, touching blobs, single pixels, the image border, too many or too small contours)."""
    h, w = 48, 56
    brain = np.zeros((h, w), np.uint8)
    cv2.ellipse(brain, (28, 24), (24, 20), 0, 0, 360, 120, -1)
    brain[20:24, 10:13] = 1  # values ≤ 1 inside the brain: holes of the brain threshold

    def mask():
        return np.zeros((h, w), np.uint8)

    cases = []
    cases.append(("empty_mask", brain, mask()))
    cases.append(("empty_image", np.zeros((h, w), np.uint8), mask()))
    m = mask(); cv2.circle(m, (28, 24), 8, 1, -1); cases.append(("disc", brain, m))
    m = mask(); cv2.circle(m, (28, 24), 10, 1, -1); cv2.circle(m, (28, 24), 5, 0, -1)
    cases.append(("ring", brain, m))
    m = mask(); cv2.rectangle(m, (10, 8), (46, 40), 1, -1); cv2.rectangle(m, (14, 12), (42, 36), 0, -1)
    cv2.rectangle(m, (18, 16), (38, 32), 1, -1); cv2.rectangle(m, (22, 20), (34, 28), 0, -1)
    m[23:25, 27:29] = 1
    cases.append(("holes_in_holes", brain, m))
    m = mask(); m[10:20, 10:20] = 1; m[20:30, 20:30] = 1; m[10:20, 30:40] = 1  # diagonal touch: 8-connected
    cases.append(("touching_blobs", brain, m))
    m = mask(); m[24, 28] = 1; cases.append(("one_pixel", brain, m))
    m = mask(); m[5, 5] = 1; m[5, 9] = 1; m[30, 40] = 1; m[12:15, 20] = 1; m[40, 10:16] = 1
    cases.append(("pixels_and_lines", brain, m))
    m = mask(); m[0:12, 0:15] = 1; m[h - 9:h, w - 20:w] = 1; m[:, 27] = 1
    cases.append(("on_border", brain, m))
    m = mask()
    for i in range(6):
        cv2.circle(m, (8 + 8 * i, 24), 3, 1, -1)
    cases.append(("six_blobs", brain, m))
    m = mask(); cv2.circle(m, (28, 24), 2, 1, -1); cases.append(("too_small", brain, m))
    full = np.full((h, w), 200, np.uint8)
    m = mask(); m[:, :] = 1; cases.append(("full_frame", full, m))
    edge_brain = np.zeros((h, w), np.uint8); edge_brain[0, :] = 50
    m = mask(); m[0, 3:9] = 1; cases.append(("degenerate_brain", edge_brain, m))
    return cases


def selection_fixture(out):
    cases = selection_cases()
    save_npy(f"{out}/selection/images.npy", np.stack([c[1] for c in cases]))
    save_npy(f"{out}/selection/masks.npy", np.stack([c[2] for c in cases]))
    write_json(f"{out}/selection/expected.json",
               [dict(name=name, **ref.selection(image, m)) for name, image, m in cases])


# ---------------------------------------------------------------- backbone and head
def embedding_inputs():
    """Seeded frames spanning the normalised range, then the padding frame (all-zero image, normalised)."""
    frames = [seeded_weights.uniform(f"input.frame{i}", 3 * 224 * 224, -2.2, 2.7, BASE_SEED).reshape(3, 224, 224)
              for i in range(EMBEDDING_INPUTS)]
    zero = np.zeros((224, 224, 3))
    frames.append(ref.transforms("none")(image=zero)["image"].numpy())
    return torch.from_numpy(np.stack(frames).astype(np.float32))


def embeddings_fixture(out, model):
    with torch.no_grad():
        embeddings = model.backbone(embedding_inputs())
    save_npy(f"{out}/embeddings/embeddings.npy", embeddings.numpy())


def head_fixture(out, model):
    """Seeded embeddings (36 rows, the scale of real ones) through LSTM + head, as sequences of row indices."""
    rows = torch.from_numpy(seeded_weights.uniform("input.embeddings", 36 * 2304, 0.0, 1.5, BASE_SEED)
                            .reshape(36, 2304))
    sequences = {"full": list(range(35)), "shifted": list(range(1, 36)),
                 "padded": list(range(5, 36)) + [0] * 4, "single": [7] + [0] * 34}
    result = []
    for name, seq in sequences.items():
        with torch.no_grad():
            logit = model.head(rows[seq][None])
        result.append(dict(name=name, rows=seq, probability=float(torch.sigmoid(logit)[0, 0])))
    write_json(f"{out}/head.json", result)


# ---------------------------------------------------------------- a synthetic series, end to end
SERIES_SHAPE = (48, 60, 76)  # slices, rows, columns: small, non-square, not 224


def synthetic_series():
    """uint8 slices of an elliptic 'brain' with texture, WT/ET masks that make some slices fail selection."""
    s, h, w = SERIES_SHAPE
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:h, 0:w]
    images = np.zeros((s, h, w), np.uint8)
    masks = np.zeros((s, 2, h, w), np.uint8)
    for i in range(s):
        inside = ((yy - 30) / 27) ** 2 + ((xx - 38) / 34) ** 2 <= 1
        texture = 60 + 80 * np.sin(xx / 5 + i / 7) ** 2 + 40 * np.cos(yy / 4) + rng.normal(0, 12, (h, w))
        images[i] = np.where(inside, np.clip(texture, 2, 255), 0).astype(np.uint8)
        wt, et = masks[i, 0], masks[i, 1]
        if i < 3:
            continue  # no tumour
        if i == 3:
            cv2.circle(wt, (30, 30), 2, 1, -1)  # too small relative to the brain
        elif i == 4:
            for k in range(6):
                cv2.circle(wt, (12 + 10 * k, 30), 3, 1, -1)  # six contours: more than five
        else:
            r = 6 + (i % 9)
            cv2.ellipse(wt, (34 + i % 5, 28), (r + 3, r), 15 * i, 0, 360, 1, -1)
            cv2.ellipse(et, (34 + i % 5, 28), (r // 2 + 1, r // 2), 0, 0, 360, 1, -1)
            if i % 4 == 0:
                cv2.circle(wt, (34 + i % 5, 28), 2, 0, -1)  # a hole: two contours, still kept
    return images, masks


STUDY_UID = "1.2.826.0.1.3680043.8.498.1"
SERIES_UID = "1.2.826.0.1.3680043.8.498.2"


def series_json(patient_id, mri_type, shape, instance_numbers, slices_total):
    """series.json as the ingest stage writes it (Ingestion.SeriesMetadata), for a synthetic series."""
    s, h, w = shape
    return {
        "schema": 1, "patient_id": patient_id, "study_instance_uid": STUDY_UID, "series_instance_uid": SERIES_UID,
        "series_description": f"synthetic {mri_type}", "mri_type": mri_type, "mri_type_source": "folder",
        "source_folder": mri_type, "slices": s, "rows": h, "columns": w, "slices_total": slices_total,
        "slices_nonempty": s, "instance_numbers": instance_numbers,
        "transfer_syntaxes": [{"uid": "1.2.840.10008.1.2.1", "name": "Explicit VR Little Endian"}],
        "order_check": {"method": "instance_number", "status": "unchecked"},
        "intensity": {"min": 0.0, "max": 1000.0},
        "crop": {"threshold": 1e-6, "slices": {"lower": 0, "upper": s}, "rows": {"lower": 0, "upper": h},
                 "columns": {"lower": 0, "upper": w}, "applied": ["slices"]},
        "geometry": {"image_position_patient": [None] * s}, "errors": [],
    }


def study_json(patient_id, mri_type, slices):
    """study.json (Ingestion.StudyMetadata) with one series directory named after its type."""
    return {"schema": 1, "patient_id": patient_id, "study_instance_uid": STUDY_UID,
            "series": [{"dir": mri_type, "mri_type": mri_type, "series_instance_uid": SERIES_UID, "slices": slices}],
            "errors": [], "warnings": []}


def series_fixture(out, model):
    images, masks = synthetic_series()
    s, h, w = SERIES_SHAPE
    instance_numbers = [2 * i + 3 for i in range(s)]
    directory = f"{out}/series/study/T2w"
    save_npy(f"{directory}/image_uint8.npy", images)
    save_npy(f"{directory}/masks.npy", masks)
    write_json(f"{directory}/series.json", series_json("00042", "T2w", images.shape, instance_numbers, slices_total=s + 4))
    write_json(f"{out}/series/study/study.json", study_json("00042", "T2w", s))

    kept = [i for i in range(s) if ref.selection(images[i], masks[i, 0])["keep"]]
    frames = [ref.frame(images[i], masks[i, 0], masks[i, 1]) for i in kept]
    expected = {"kept": [instance_numbers[i] for i in kept]}
    for tta in ["zoom", "none"]:
        expected[tta] = ref.classify_series(model, frames, tta)
    write_json(f"{out}/series/expected.json", expected)
    # The first kept frame through both OpenCV paths (uint8: full chunks; float64: chunks with padding).
    first = frames[0]
    zoom = ref.transforms("zoom")
    save_npy(f"{out}/series/frame0_uint8_path.npy", zoom(image=first)["image"].numpy())
    save_npy(f"{out}/series/frame0_float_path.npy", zoom(image=first.astype(np.float64))["image"].numpy())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "../../Tests/ClassificationTests/Fixtures")
    torch.set_num_threads(2)
    chunks_fixture(out)
    selection_fixture(out)
    model = seeded_model()
    write_json(f"{out}/keys.json", [[k, list(v.shape)] for k, v in model.state_dict().items()])
    embeddings_fixture(out, model)
    head_fixture(out, model)
    series_fixture(out, model)


if __name__ == "__main__":
    main()
