#!/usr/bin/python3
"""Builds the DICOM decoding fixtures in Tests/DICOMTests/Fixtures (run with Debian's /usr/bin/python3:
numpy + pydicom 2.3, and DCMTK's dcmconv/dcmcjpeg/dcmcjpls/dcmcrle).

- MR_small in several transfer syntaxes: pydicom's own test files (copied, with pydicom's licence) plus
  deflated and JPEG lossless made from MR_small with DCMTK; MR_small_pixel_array.i16 holds pydicom's
  pixel_array of MR_small.dcm (raw int16 little endian, 64x64) as the known answer.
- ramp12_*.dcm: a 3-frame 12-bit signed ramp with junk in the unused high bits and a fractional rescale,
  whose stored values are known by construction (ramp12_expected.i32: int32 little endian, 3x16x20).
- smooth8/smooth12 (32x32 unsigned 8- and 12-bit gradients, smooth_expected_*.i32) and their lossy JPEG
  baseline / extended versions: DCMTK must decode them to within a few grey levels of the source.
- bad input: a truncated MR_small, a zero-byte file, a text file, a DICOM without pixel data, one with
  absurd Rows/Columns.

usage: tools/testdata/make_dicom_fixtures.py [--pydicom-test-files DIR] [--out DIR]
"""
import argparse
import pathlib
import shutil
import subprocess

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = pathlib.Path(__file__).resolve().parents[2]
COPIED = ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
          "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]


def dcmtk(*args):
    subprocess.run(args, check=True)


def ramp12_dataset(frames=3, rows=16, columns=20):
    """12-bit signed values covering -2048..2047, with bits 12-15 set to junk (readers must mask them)."""
    count = frames * rows * columns
    stored = (np.arange(count, dtype=np.int64) * 4096 // count - 2048).astype(np.int32)
    junk = (np.arange(count) % 16).astype(np.uint16) << 12
    words = (stored.astype(np.uint16) & 0x0FFF) | junk
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"  # Enhanced MR Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["ramp12"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.PatientID = "RAMP12"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["ramp12-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["ramp12-series"])
    ds.InstanceNumber = 7
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.RescaleSlope, ds.RescaleIntercept = "0.5", "-10.25"
    ds.PixelData = words.astype("<u2").tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds, stored.reshape(frames, rows, columns)


def smooth_dataset(bits):
    """A smooth unsigned 32x32 pattern with BitsStored = `bits` (8: BitsAllocated 8, 12: BitsAllocated 16)."""
    y, x = np.mgrid[0:32, 0:32]
    top = (1 << bits) - 1
    wave = np.sin(x / 9.0) * np.cos(y / 7.0)
    # Spans exactly 0..top: DCMTK's lossy encoder stretches the stored range to the full bit depth (+sp).
    values = np.rint((wave - wave.min()) / (wave.max() - wave.min()) * top).astype(np.int32)
    ds, _ = ramp12_dataset(frames=1, rows=32, columns=32)
    del ds.NumberOfFrames
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"  # MR Image Storage
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (8 if bits == 8 else 16), bits, bits - 1, 0
    del ds.RescaleSlope, ds.RescaleIntercept
    ds.PixelData = values.astype(np.uint8 if bits == 8 else "<u2").tobytes()
    return ds, values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pydicom-test-files", type=pathlib.Path,
                        default=pathlib.Path(pydicom.__file__).parent / "data" / "test_files",
                        help="pydicom's test files (default: those of the pydicom running this script)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "Tests/DICOMTests/Fixtures")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    for name in COPIED:
        shutil.copyfile(args.pydicom_test_files / name, out / name)
    mr = out / "MR_small.dcm"
    dcmtk("dcmconv", "--write-xfer-deflated", str(mr), str(out / "MR_small_deflated.dcm"))
    dcmtk("dcmcjpeg", "--encode-lossless-sv1", str(mr), str(out / "MR_small_jpeg_lossless_sv1.dcm"))
    dcmtk("dcmcjpeg", "--encode-lossless", str(mr), str(out / "MR_small_jpeg_lossless.dcm"))
    pixels = pydicom.dcmread(mr).pixel_array
    assert pixels.shape == (64, 64) and pixels.dtype == np.int16
    pixels.astype("<i2").tofile(out / "MR_small_pixel_array.i16")

    ramp, stored = ramp12_dataset()
    ramp.save_as(out / "ramp12_explicit.dcm", write_like_original=False)
    stored.astype("<i4").tofile(out / "ramp12_expected.i32")
    dcmtk("dcmcrle", str(out / "ramp12_explicit.dcm"), str(out / "ramp12_rle.dcm"))
    dcmtk("dcmconv", "--write-xfer-big", str(out / "ramp12_explicit.dcm"), str(out / "ramp12_bigendian.dcm"))

    for bits, option, name in [(8, "--encode-baseline", "jpeg_baseline"), (12, "--encode-extended", "jpeg_extended")]:
        ds, values = smooth_dataset(bits)
        source = out / f"smooth{bits}.dcm"
        ds.save_as(source, write_like_original=False)
        values.astype("<i4").tofile(out / f"smooth_expected_{bits}.i32")
        dcmtk("dcmcjpeg", option, "--quality", "100", str(source), str(out / f"smooth{bits}_{name}.dcm"))

    data = mr.read_bytes()
    (out / "bad_truncated.dcm").write_bytes(data[: len(data) - 3000])
    (out / "bad_zero_bytes.dcm").write_bytes(b"")
    (out / "bad_text.dcm").write_text("Patient notes: this is not an image.\n" * 20)
    no_pixels = pydicom.dcmread(mr)
    del no_pixels.PixelData
    no_pixels.save_as(out / "bad_no_pixel_data.dcm")
    huge = pydicom.dcmread(mr)
    huge.Rows, huge.Columns = 9000, 64
    huge.save_as(out / "bad_absurd_rows.dcm")

    shutil.copyfile(args.pydicom_test_files / "README.txt", out / "PYDICOM-TEST-FILES-README.txt")
    licence = args.pydicom_test_files.parents[2] / "pydicom-3.0.2.dist-info/licenses/LICENSE"
    if licence.exists():
        shutil.copyfile(licence, out / "PYDICOM-LICENSE.txt")


if __name__ == "__main__":
    main()
