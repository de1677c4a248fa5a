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


def part10_bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(ds: Dataset, directory: Path) -> Path:
    path = directory / f"{ds.SOPInstanceUID}.dcm"
    path.write_bytes(part10_bytes(ds))
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
