"""DICOM files for the tests, made from pydicom's bundled test data and given a registered study."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

# A CT, an MR, and compressed transfer syntaxes (JPEG baseline, JPEG 2000, RLE), stored as they come.
CORPUS = {
    "ct": "CT_small.dcm",
    "mr": "MR_small.dcm",
    "jpeg-baseline": "JPEG-lossy.dcm",
    "jpeg2000": "JPEG2000.dcm",
    "rle": "SC_rgb_rle.dcm",
}


def dataset(kind: str = "ct") -> Dataset:
    path = get_testdata_file(CORPUS[kind])
    assert path is not None, f"pydicom's test file {CORPUS[kind]} is missing"
    return pydicom.dcmread(path)


def make_instance(
    study_uid: str, accession: str = "114649960", kind: str = "ct", charset: str | None = None, patient_name: str | None = None
) -> Dataset:
    """A new instance (new SOP and series UIDs) of `kind`, in `study_uid`, with `accession`."""
    ds = dataset(kind)
    # Data Set Trailing Padding (FFFC,FFFC) is dropped by senders such as dcmtk's storescu: it is not part
    # of the data set's content, so the test files go without it and sent == stored can be checked exactly.
    if 0xFFFCFFFC in ds:
        del ds[0xFFFCFFFC]
    if ds.file_meta.TransferSyntaxUID.is_compressed and "PixelData" in ds:
        ds["PixelData"].VR = "OB"  # PS3.5 A.4: encapsulated pixel data is OB (dcmtk sends it so)
    if charset:
        ds.SpecificCharacterSet = charset
    if patient_name:
        ds.PatientName = patient_name
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.AccessionNumber = accession
    return ds


def _explicit_lengths(ds: Dataset) -> None:
    """Sequences and items with explicit lengths: dcmtk sends them so whatever the file says, and the
    test compares the stored bytes with the file's."""
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = False
            for item in element.value:
                item.is_undefined_length_sequence_item = False


def part10_bytes(ds: Dataset) -> bytes:
    _explicit_lengths(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(ds: Dataset, directory: Path) -> Path:
    path = directory / f"{ds.SOPInstanceUID}.dcm"
    path.write_bytes(part10_bytes(ds))
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# The test files per transfer syntax, from pydicom's bundled data: storescu must propose each one itself.
COMPRESSED = {
    "jpeg-baseline": "SC_jpeg_no_color_transform.dcm",  # 1.2.840.10008.1.2.4.50
    "jpeg-extended": "JPEG-lossy.dcm",  # .51
    "jpeg-lossless": "SC_rgb_jpeg_gdcm.dcm",  # .70
    "jpeg2000-lossless": "MR_small_jp2klossless.dcm",  # .90
    "jpeg2000": "JPEG2000.dcm",  # .91
    "rle": "MR_small_RLE.dcm",  # .5
}
CORPUS.update(COMPRESSED)


def dataset_bytes(path: Path) -> bytes:
    """The data set of a Part 10 file as encoded, without the preamble and file meta information."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    with path.open("rb") as stream:
        read_preamble(stream, force=False)
        _read_file_meta_info(stream)
        return stream.read()


ORDER_COLUMNS = ("series_number", "instance_number", "number_of_frames", "rows", "modality", "series_description")


def order_columns(ds: Dataset) -> dict[str, object]:
    """The instance row's columns read from the header at ingest, as pydicom reads them from `ds`."""

    def number(keyword: str) -> int | None:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None

    return {
        "series_number": number("SeriesNumber"),
        "instance_number": number("InstanceNumber"),
        "number_of_frames": number("NumberOfFrames"),
        "rows": number("Rows"),
        "modality": str(ds.get("Modality") or ""),
        "series_description": str(ds.get("SeriesDescription") or ""),
    }


def with_numbers(ds: Dataset, series: int, instance: int, description: str = "") -> Dataset:
    ds.SeriesNumber, ds.InstanceNumber = series, instance
    if description:
        ds.SeriesDescription = description
    return ds
