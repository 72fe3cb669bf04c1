#!/usr/bin/python3
"""Builds a synthetic brain-MRI study in the RSNA-MICCAI layout: OUT/<patient>/<FLAIR|T1w|T1wCE|T2w>/*.

Needs only Debian packages: python3-numpy, python3-pydicom (2.3) and, for --traps, DCMTK's command-line tools.
The phantom: an ellipsoid head (scalp, skull gap, brain with a smooth intensity texture) holding a lesion
(a bright oedematous blob on FLAIR/T2w, an enhancing rim around a dark core on T1wCE). Deterministic (--seed).

Without --traps every series is axial, explicit VR little endian, files named Image-<InstanceNumber>.dcm
(the Kaggle layout). With --traps a real export's oddities are added:
  - file names shuffled and unrelated to InstanceNumber (some without extension);
  - T2w acquired sagittally, with the file of its middle slice missing (a gap the order check reports);
  - T1w written in mixed transfer syntaxes (implicit, big endian, deflated, RLE, JPEG lossless, JPEG-LS);
  - a 3-slice localizer series mixed into the FLAIR folder;
  - the T1wCE folder named "series_7", so its MRI type must come from SeriesDescription;
  - a text file in the study.
Slices at both ends of each series fall outside the head (blank), so the empty-slice drop has work to do.

usage: make_study.py --out DIR [--patient 00042] [--slices 64] [--size 128] [--series FLAIR,T1w,T1wCE,T2w]
                     [--traps] [--seed 7]
"""
import argparse
import hashlib
import pathlib
import shutil
import subprocess
import tempfile
import zlib

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
DESCRIPTIONS = {"FLAIR": "AX FLAIR", "T1w": "AX T1 SE", "T1wCE": "AX T1 POST GAD", "T2w": "AX T2 FSE"}
# Tissue intensities per MRI type: brain, lesion core, lesion rim, scalp.
CONTRAST = {
    "FLAIR": (420.0, 900.0, 780.0, 300.0),
    "T1w": (600.0, 380.0, 420.0, 700.0),
    "T1wCE": (600.0, 300.0, 1300.0, 700.0),
    "T2w": (500.0, 1100.0, 950.0, 350.0),
}
TRANSFER_SYNTAX_TOOLS = [  # cycled over the files of the mixed-syntax series
    None,
    ["dcmconv", "--write-xfer-implicit"],
    ["dcmconv", "--write-xfer-big"],
    ["dcmconv", "--write-xfer-deflated"],
    ["dcmcrle"],
    ["dcmcjpeg", "--encode-lossless-sv1"],
    ["dcmcjpls", "--encode-lossless"],
]


def texture(rng):
    """A smooth random field in [-1, 1]: a few random plane waves, evaluated on patient coordinates."""
    waves = [(rng.normal(size=3) * 0.08, rng.uniform(0, 2 * np.pi)) for _ in range(6)]

    def field(x, y, z):
        total = np.zeros(np.broadcast(x, y, z).shape)
        for k, phase in waves:
            total += np.sin(k[0] * x + k[1] * y + k[2] * z + phase)
        return total / len(waves)

    return field


def phantom(mri_type, x, y, z, field, extent):
    """Signal at patient coordinates (mm). `extent` is the half-size of the field of view."""
    brain, core, rim, scalp = CONTRAST[mri_type]
    a, b, c = 0.72 * extent, 0.85 * extent, 0.75 * extent  # head semi-axes (x, y, z)
    r_head = (x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2
    r_brain = (x / (0.88 * a)) ** 2 + (y / (0.88 * b)) ** 2 + (z / (0.88 * c)) ** 2
    value = np.where(r_head <= 1.0, scalp, 0.0)
    value = np.where(r_head <= 0.93, 60.0, value)  # skull: dark
    value = np.where(r_brain <= 1.0, brain * (1.0 + 0.15 * field(x, y, z)), value)
    centre = np.array([0.3, -0.2, 0.15]) * extent
    d = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2) / (0.16 * extent)
    lesion = (d <= 1.0) & (r_brain <= 1.0)
    value = np.where(lesion & (d > 0.7), rim, value)
    value = np.where(lesion & (d <= 0.7), core * (1.0 + 0.05 * field(z, x, y)), value)
    return np.clip(np.rint(value), 0, 4095).astype(np.uint16)


class Series:
    def __init__(self, study, mri_type, slices, size, sagittal, seed, description=None):
        self.study, self.mri_type, self.slices, self.size = study, mri_type, slices, size
        self.sagittal = sagittal
        self.uid = generate_uid(entropy_srcs=[study.uid, mri_type, str(slices), str(sagittal), str(description)])
        self.description = description or DESCRIPTIONS[mri_type].replace("AX", "SAG" if sagittal else "AX")
        # Each series' texture has its own seed, so a series' pixels do not depend on the traps chosen.
        self.field = texture(np.random.default_rng([seed, zlib.crc32(self.description.encode())]))
        self.spacing = 240.0 / size  # 240 mm field of view
        self.thickness = 200.0 / slices

    def geometry(self, index):
        """(ImageOrientationPatient, ImagePositionPatient, grid coordinates x, y, z) of slice `index`."""
        half = 120.0
        offset = -100.0 + (index + 0.5) * self.thickness  # slice centres span ±100 mm
        pixel = (np.arange(self.size) + 0.5) * self.spacing - half
        if self.sagittal:  # rows run anterior→posterior (+y), columns head→feet (−z)
            orientation = [0, 1, 0, 0, 0, -1]
            position = [offset, pixel[0], -pixel[0]]
            x = np.full((self.size, self.size), offset)
            y = np.broadcast_to(pixel[None, :], (self.size, self.size))
            z = np.broadcast_to(-pixel[:, None], (self.size, self.size))
        else:
            orientation = [1, 0, 0, 0, 1, 0]
            position = [pixel[0], pixel[0], offset]
            x = np.broadcast_to(pixel[None, :], (self.size, self.size))
            y = np.broadcast_to(pixel[:, None], (self.size, self.size))
            z = np.full((self.size, self.size), offset)
        return orientation, position, x, y, z

    def dataset(self, index):
        orientation, position, x, y, z = self.geometry(index)
        pixels = phantom(self.mri_type, x, y, z, self.field, 120.0)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[self.uid, str(index)])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.SOPClassUID = MR_IMAGE_STORAGE
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientID = self.study.patient
        ds.PatientName = "Synthetic^Phantom"
        ds.StudyInstanceUID = self.study.uid
        ds.SeriesInstanceUID = self.uid
        ds.SeriesDescription = self.description
        ds.InstanceNumber = index + 1
        ds.ImageOrientationPatient = [f"{v:g}" for v in orientation]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.PixelSpacing = [f"{self.spacing:.4f}", f"{self.spacing:.4f}"]
        ds.SliceThickness = f"{self.thickness:.4f}"
        ds.Rows, ds.Columns = self.size, self.size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels.astype("<u2").tobytes()
        return ds


class Study:
    def __init__(self, patient, seed):
        self.patient = patient
        self.uid = generate_uid(entropy_srcs=["mgmt-fleet synthetic study", patient, str(seed)])


def write_series(series, folder, rng, shuffled_names, syntax_tools, scratch, missing=()):
    folder.mkdir(parents=True, exist_ok=True)
    order = rng.permutation(series.slices) if shuffled_names else np.arange(series.slices)
    for position, index in enumerate(order):
        if index in missing:
            continue
        if shuffled_names:
            digest = hashlib.sha1(f"{series.uid}/{index}".encode()).hexdigest()[:12]
            name = f"IM{digest}" + (".dcm" if position % 3 else "")
        else:
            name = f"Image-{index + 1}.dcm"
        target = folder / name
        tool = syntax_tools[index % len(syntax_tools)] if syntax_tools else None
        if tool is None:
            series.dataset(index).save_as(target, write_like_original=False)
        else:
            plain = scratch / "plain.dcm"
            series.dataset(index).save_as(plain, write_like_original=False)
            subprocess.run([*tool, str(plain), str(target)], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--patient", default="00042")
    parser.add_argument("--slices", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--series", default="FLAIR,T1w,T1wCE,T2w")
    parser.add_argument("--traps", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.traps and not shutil.which("dcmcjpls"):
        parser.error("--traps needs DCMTK's command-line tools (apt-get install dcmtk)")

    rng = np.random.default_rng(args.seed)
    study = Study(args.patient, args.seed)
    root = args.out / args.patient
    with tempfile.TemporaryDirectory() as scratch:
        for mri_type in args.series.split(","):
            sagittal = args.traps and mri_type == "T2w"
            series = Series(study, mri_type, args.slices, args.size, sagittal, args.seed)
            folder_name = "series_7" if args.traps and mri_type == "T1wCE" else mri_type
            tools = TRANSFER_SYNTAX_TOOLS if args.traps and mri_type == "T1w" else None
            missing = {args.slices // 2} if sagittal else set()
            write_series(series, root / folder_name, rng, args.traps, tools, pathlib.Path(scratch), missing)
            if args.traps and mri_type == "FLAIR":
                localizer = Series(study, "T1w", 3, 64, False, args.seed, description="LOCALIZER")
                write_series(localizer, root / folder_name, rng, True, None, pathlib.Path(scratch))
    if args.traps:
        (root / "README.txt").write_text("Exported by a synthetic scanner. Not an image.\n")
    print(root)


if __name__ == "__main__":
    main()
