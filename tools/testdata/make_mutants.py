#!/usr/bin/python3
"""Builds a corpus of mutated studies from a generated one (make_study.py), for robustness runs of `ingest
inspect` and `ingest run`: OUT/mutant-NNN/<series>/<files>, each study a copy of one or two series of the source
in which about half the files are damaged the way disks, networks and hostile exporters damage them:

  - bit flips anywhere, or concentrated in the header (the first KB);
  - truncation at a random offset;
  - a random 32-bit word written over the header (length fields, tags, VRs);
  - a header edit with pydicom: Rows/Columns/Bits*/PixelRepresentation/SamplesPerPixel/NumberOfFrames/Photometric
    Interpretation/RescaleSlope/Intercept/geometry set to extreme or malformed values, a UID deleted, or the
    TransferSyntaxUID swapped for one that does not match the encoding;
  - the tail of another file spliced onto the head of this one.

Deterministic (--seed). Needs Debian's python3-pydicom (2.3).

usage: make_mutants.py --source STUDY --out DIR [--studies 24] [--seed 1]
"""
import argparse
import pathlib
import random
import shutil

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

EVIL_STRINGS = ["nan", "inf", "-inf", "1e308", "-1e308", "abc", "", "-1", "0", "99999999999", "1\\2", "1e-320"]
EVIL_NUMBERS = [0, 1, 7, 15, 16, 17, 31, 32, 33, 64, 200, 255, 32767, 65535]
STRING_ATTRIBUTES = [  # (keyword, VR)
    ("NumberOfFrames", "IS"), ("RescaleSlope", "DS"), ("RescaleIntercept", "DS"), ("ImagePositionPatient", "DS"),
    ("ImageOrientationPatient", "DS"), ("PixelSpacing", "DS"), ("SliceThickness", "DS"), ("InstanceNumber", "IS"),
    ("PhotometricInterpretation", "CS"),
]
NUMBER_ATTRIBUTES = ["Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
                     "SamplesPerPixel"]
TRANSFER_SYNTAXES = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70",
                     "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99",
                     "1.2.3.4"]


def flip_bits(data, rng, limit=None):
    data = bytearray(data)
    span = min(len(data), limit) if limit else len(data)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(span)] ^= 1 << rng.randrange(8)
    return bytes(data)


def truncate(data, rng):
    return data[: rng.randrange(len(data))]


def overwrite_word(data, rng):
    data = bytearray(data)
    at = rng.randrange(0, max(1, min(len(data), 1024) - 4))
    data[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\xfe\xff\xff\x7f", b"\x00\x00\x00\x00",
                                  rng.randbytes(4)])
    return bytes(data)


def edit_header(path, rng):
    dataset = pydicom.dcmread(path, force=True)
    choice = rng.randrange(4)
    if choice == 0:
        keyword, vr = rng.choice(STRING_ATTRIBUTES)
        raw = rng.choice(EVIL_STRINGS).encode()
        if len(raw) % 2:
            raw += b" "
        tag = Tag(pydicom.datadict.tag_for_keyword(keyword))
        dataset[tag] = RawDataElement(tag, vr, len(raw), raw, 0, False, True)
    elif choice == 1:
        setattr(dataset, rng.choice(NUMBER_ATTRIBUTES), rng.choice(EVIL_NUMBERS))
    elif choice == 2:
        keyword = rng.choice(["SeriesInstanceUID", "StudyInstanceUID", "PixelData", "Rows", "BitsAllocated"])
        if keyword in dataset:
            delattr(dataset, keyword)
    else:
        dataset.file_meta.TransferSyntaxUID = rng.choice(TRANSFER_SYNTAXES)
    dataset.save_as(path, write_like_original=True)


def splice(data, other, rng):
    return data[: rng.randrange(len(data))] + other[rng.randrange(len(other)):]


def mutate(path, all_files, rng):
    data = path.read_bytes()
    kind = rng.randrange(6)
    try:
        if kind == 0:
            path.write_bytes(flip_bits(data, rng))
        elif kind == 1:
            path.write_bytes(flip_bits(data, rng, limit=1024))
        elif kind == 2:
            path.write_bytes(truncate(data, rng))
        elif kind == 3:
            path.write_bytes(overwrite_word(data, rng))
        elif kind == 4:
            edit_header(path, rng)
        else:
            path.write_bytes(splice(data, rng.choice(all_files).read_bytes(), rng))
    except Exception:  # pydicom refused to write the edit: damage the bytes instead
        path.write_bytes(flip_bits(data, rng, limit=1024))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="a study folder made by make_study.py")
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--studies", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    series = sorted(p for p in args.source.iterdir() if p.is_dir())
    all_files = sorted(f for s in series for f in s.rglob("*") if f.is_file())
    for index in range(args.studies):
        study = args.out / f"mutant-{index:03d}"
        for folder in rng.sample(series, min(len(series), rng.choice([1, 2]))):
            shutil.copytree(folder, study / folder.name)
        for path in sorted(f for f in study.rglob("*") if f.is_file()):
            if rng.random() < 0.5:
                mutate(path, all_files, rng)


if __name__ == "__main__":
    main()
