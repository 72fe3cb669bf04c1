#!/usr/bin/python3
"""Builds Tests/DICOMTests/Fixtures/invalid/*.dcm: copies of one slice of the ingestion fixture's FLAIR series
(Tests/IngestionTests/Fixtures/study/00007/FLAIR/slice005.bin) with one header value made invalid each, the way
broken exports and hostile files do it. They keep the FLAIR series' SeriesInstanceUID, so a study holding them next
to the good slices shows whether one bad file fails alone. Each name says the attribute and the value; the reader
must refuse every one of them with a per-file error naming the attribute. Also
Tests/IngestionTests/Fixtures/no_series_uid/: three FLAIR slices without SeriesInstanceUID (valid files, a series
nobody downstream could name). Run with Debian's /usr/bin/python3 (pydicom 2.3).

usage: tools/testdata/make_invalid_header_fixtures.py [--out DIR] [--no-uid-out DIR]
"""
import argparse
import pathlib

import pydicom
from pydicom.dataelem import DataElement
from pydicom.uid import generate_uid

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "Tests/IngestionTests/Fixtures/study/00007/FLAIR/slice005.bin"

# name: (keyword, VR, raw value as it appears in the file). Raw strings so pydicom writes them unvalidated.
EDITS = {
    "rescale_slope_inf": ("RescaleSlope", "DS", "inf"),
    "rescale_slope_nan": ("RescaleSlope", "DS", "nan"),
    "rescale_slope_1e308": ("RescaleSlope", "DS", "1e308"),
    "rescale_intercept_minus_inf": ("RescaleIntercept", "DS", "-inf"),
    "position_nan": ("ImagePositionPatient", "DS", "nan\\0\\0"),
    "position_1e308": ("ImagePositionPatient", "DS", "1e308\\1e308\\0"),
    "orientation_inf": ("ImageOrientationPatient", "DS", "1\\0\\0\\0\\inf\\0"),
    "spacing_1e308": ("PixelSpacing", "DS", "1e308\\7.5"),
    "thickness_nan": ("SliceThickness", "DS", "nan"),
    "photometric_rgb": ("PhotometricInterpretation", "CS", "RGB"),
    "photometric_palette": ("PhotometricInterpretation", "CS", "PALETTE COLOR"),
    "high_bit_200": ("HighBit", "US", 200),
    "pixel_representation_7": ("PixelRepresentation", "US", 7),
    "frames_minus_one": ("NumberOfFrames", "IS", "-1"),
    "frames_zero": ("NumberOfFrames", "IS", "0"),
    "frames_abc": ("NumberOfFrames", "IS", "abc"),
}


def write(dataset, path, transfer_syntax=None):
    if transfer_syntax:
        dataset.file_meta.TransferSyntaxUID = transfer_syntax
    # The encoding is the source's (explicit VR little endian) whatever the meta header declares.
    dataset.is_little_endian, dataset.is_implicit_VR = True, False
    dataset.save_as(path, write_like_original=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "Tests/DICOMTests/Fixtures/invalid")
    parser.add_argument("--no-uid-out", type=pathlib.Path, default=ROOT / "Tests/IngestionTests/Fixtures/no_series_uid")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for index, (name, (keyword, vr, value)) in enumerate(sorted(EDITS.items())):
        dataset = pydicom.dcmread(SOURCE)
        uid = generate_uid(entropy_srcs=[name])
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = uid
        dataset.InstanceNumber = 100 + index
        tag = pydicom.datadict.tag_for_keyword(keyword)
        raw = value.encode("ascii") if isinstance(value, str) else value
        if isinstance(raw, bytes) and len(raw) % 2:
            raw += b" "
        dataset[tag] = DataElement(tag, vr, raw) if isinstance(raw, int) else pydicom.dataelem.RawDataElement(
            pydicom.tag.Tag(tag), vr, len(raw), raw, 0, False, True)
        write(dataset, args.out / f"{name}.dcm")
    dataset = pydicom.dcmread(SOURCE)
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["syntax"])
    dataset.InstanceNumber = 100 + len(EDITS)
    write(dataset, args.out / "transfer_syntax_unknown.dcm", transfer_syntax="1.2.3.4")
    args.no_uid_out.mkdir(parents=True, exist_ok=True)
    for name in ["slice004.bin", "slice005.bin", "slice006.bin"]:
        dataset = pydicom.dcmread(SOURCE.parent / name)
        del dataset.SeriesInstanceUID
        write(dataset, args.no_uid_out / name)


if __name__ == "__main__":
    main()
