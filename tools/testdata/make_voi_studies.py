#!/usr/bin/python3
"""Writes one study per VOI case (each a single FLAIR series of small slices in shuffled InstanceNumber order,
one slice all zero) and beside it the volume pydicom makes of it as the 3D baseline loads a series
(kaggle_brain3d utils.load_dicom: `apply_voi_lut(pixel_array, ds).astype(float32)`, every slice, by instance):
OUT/<case>/FLAIR/*.dcm and OUT/<case>.expected.npy, float32 (slices, rows, columns).

Cases: no window (identity); LINEAR windows on unsigned, signed and rescaled data (several values: the first
counts); LINEAR_EXACT; SIGMOID; an 8-bit VOI LUT (US data) whose indices wrap past 255 as numpy's uint8 does; a
16-bit VOI LUT (OW data) with a positive first mapped value and values past its end; a VOI LUT beside a window
(the LUT wins); a LINEAR window of width 0.5 on one slice, where pydicom raises (the volume leaves that slice
out, and so does the expected one).   usage: make_voi_studies.py OUT   (Debian's /usr/bin/python3: numpy, pydicom)
"""
import pathlib
import sys

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SLICES, ROWS, COLUMNS = 6, 12, 10


def voi_lut(entries, first, bits, data, vr):
    item = Dataset()
    item.add(DataElement(0x00283002, "US", [entries % 65536, first, bits]))
    if vr == "OW":
        item.add(DataElement(0x00283006, "OW", np.asarray(data, dtype="<u2").tobytes()))
    else:
        item.add(DataElement(0x00283006, "US", [int(v) for v in data]))
    return Sequence([item])


def cases():
    ramp = np.arange(256, dtype=np.uint16)
    return {
        "identity": dict(bits=12, signed=False),
        "linear": dict(bits=12, signed=False, window=("2048", "1000")),
        "linear_signed_rescaled": dict(bits=16, signed=True, window=(["40", "400"], ["80", "2000"]),
                                       rescale=("2.5", "-1024")),
        "linear_exact": dict(bits=12, signed=False, window=("1500.5", "0.5"), function="LINEAR_EXACT"),
        "sigmoid": dict(bits=12, signed=False, window=("2000", "1500"), function="SIGMOID", rescale=("1", "0")),
        "lut8_wrapping": dict(bits=12, signed=False, lut=(256, 0, 8, (ramp * 7) % 256, "US")),
        "lut16": dict(bits=12, signed=False, lut=(3000, 500, 16, np.arange(3000) * 21 + 7, "OW"),
                      window=("100", "50")),
        "bad_window_slice": dict(bits=12, signed=False, window=("2048", "1000"), bad_width_at=4),
    }


def dataset(case, spec, study_uid, series_uid, index, instance, pixels):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(index)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = MR_IMAGE_STORAGE, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "MR", case
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.SeriesDescription = "AX FLAIR"
    ds.InstanceNumber = instance
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.ImagePositionPatient = ["0", "0", f"{instance * 3.0:.1f}"]
    ds.PixelSpacing = ["1", "1"]
    ds.Rows, ds.Columns = ROWS, COLUMNS
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits, signed = spec["bits"], spec["signed"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, int(signed)
    if "rescale" in spec:
        ds.RescaleSlope, ds.RescaleIntercept = spec["rescale"]
    if "window" in spec:
        ds.WindowCenter, ds.WindowWidth = spec["window"]
        if spec.get("bad_width_at") == index:
            ds.WindowWidth = "0.5"
    if "function" in spec:
        ds.VOILUTFunction = spec["function"]
    if "lut" in spec:
        ds.VOILUTSequence = voi_lut(*spec["lut"])
    ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    return ds


def main():
    out = pathlib.Path(sys.argv[1])
    rng = np.random.default_rng(5)
    for case, spec in cases().items():
        folder = out / case / "FLAIR"
        folder.mkdir(parents=True)
        study_uid = generate_uid(entropy_srcs=[case, "study"])
        series_uid = generate_uid(entropy_srcs=[case, "series"])
        low, high = (-(2 ** (spec["bits"] - 1)), 2 ** (spec["bits"] - 1)) if spec["signed"] else (0, 2 ** spec["bits"])
        instances = rng.permutation(SLICES) + 1
        by_instance = {}
        for index, instance in enumerate(instances):
            pixels = rng.integers(low, high, size=(ROWS, COLUMNS))
            if index == 2:
                pixels[:] = 0  # an empty slice: the 3D path keeps it
            ds = dataset(case, spec, study_uid, series_uid, index, int(instance), pixels)
            path = folder / f"img{index}.dcm"
            ds.save_as(path, write_like_original=False)
            read = pydicom.dcmread(path)
            try:
                by_instance[int(instance)] = apply_voi_lut(read.pixel_array, read).astype(np.float32)
            except ValueError:
                continue
        volume = np.stack([by_instance[k] for k in sorted(by_instance)])
        np.save(out / f"{case}.expected.npy", volume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
