"""The DICOM JSON that ingest keeps for DICOMweb is what pydicom's Dataset.to_json_dict writes, on every file of
the test corpus (and on pydicom's test files with other character sets), though built from the raw elements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from mie.service.dicomweb_index import (
    _FRAGMENTS,
    BULK_THRESHOLD,
    Identity,
    _dumps,
    _metadata,
    dicom_json,
    header_dataset,
    metadata_document,
)
from mie.service.ingest import HEADER_PREFIX
from tests.dicom_files import CORPUS, make_instance, part10_bytes

# the corpus, and files with implicit VR, big endian, sequences, private and UN sequences, empty numbers, waveforms
_FILES = sorted(
    {
        *CORPUS.values(),
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "reportsi_with_empty_number_tags.dcm",
        "rtplan.dcm",
        "rtstruct.dcm",
        "waveform_ecg.dcm",
        "examples_palette.dcm",
        "UN_sequence.dcm",
        "nested_priv_SQ.dcm",
        "test-SR.dcm",
    }
)


def _bulk(element: Any) -> str:
    return f"bulk/{element.tag:08X}"


@pytest.mark.parametrize("name", _FILES)
def test_the_metadata_is_pydicoms_dicom_json(name: str) -> None:
    """Both ways ingest reads a header: mie's walk of the element headers (the corpus: every file; the others when it
    follows them), and pydicom's reader (what the walk leaves to it)."""
    path = get_testdata_file(name)
    assert path is not None, f"pydicom's test file {name} is missing"
    expected = pydicom.dcmread(path, stop_before_pixels=True, force=True).to_json_dict(BULK_THRESHOLD, _bulk)
    data = Path(path).read_bytes()
    walked = header_dataset(data[:HEADER_PREFIX], len(data) <= HEADER_PREFIX)
    assert walked is not None or name not in CORPUS.values()
    for dataset in (pydicom.dcmread(path, stop_before_pixels=True, force=True), walked):
        if dataset is not None:
            assert dicom_json(dataset, _bulk) == expected


@pytest.mark.parametrize("charset", ["GB18030", "GBK", "ISO_IR 192", "ISO_IR 100"])
def test_names_in_the_provinces_character_sets_are_decoded_as_pydicom_decodes_them(charset: str) -> None:
    name = "Zhang^San" if charset == "ISO_IR 100" else "张^三=ZHANG^SAN"
    ds = make_instance(generate_uid(), charset=charset, patient_name=name)
    ds.StudyDescription = "胸部 CT\\平扫" if charset != "ISO_IR 100" else "Thorax\\plain"
    data = part10_bytes(ds)
    expected = pydicom.dcmread(DicomBytesIO(data), stop_before_pixels=True).to_json_dict(BULK_THRESHOLD, _bulk)
    walked = header_dataset(data, True)
    assert walked is not None
    found = dicom_json(walked, _bulk)
    assert found == expected
    assert found["00100010"]["Value"][0]["Alphabetic"] == name.split("=")[0]


@pytest.mark.parametrize(
    "name",
    # rtstruct.dcm has no file meta (no Part 10 file: mie stores none such)
    sorted({*_FILES, "SC_rgb_rle_2frame.dcm", "rtdose.dcm", "examples_ybr_color.dcm", "CT_small.dcm"} - {"rtstruct.dcm"}),
)
def test_frames_find_the_pixel_data_as_pydicom_does(name: str) -> None:
    """WADO-RS frames read where the pixel data begins, and the frames' geometry, by mie's walk of the header; where
    the walk can tell, it says what pydicom's reading says (the walk's answer is None where it cannot)."""
    from mie.service.dicomweb import _read_layout, _scanned_layout

    path = get_testdata_file(name)
    assert path is not None, f"pydicom's test file {name} is missing"
    dataset = pydicom.dcmread(path, force=True)
    syntax = dataset.file_meta.TransferSyntaxUID
    with open(path, "rb") as file:
        scanned = _scanned_layout(file, syntax)
        file.seek(0)
        read = _read_layout(file, syntax)
    if scanned is not None:
        assert scanned == read
    image = "PixelData" in dataset and "Rows" in dataset
    if image and syntax.is_little_endian and not syntax.is_deflated:
        assert scanned is not None and read.start is not None  # the images a viewer asks frames of: no pydicom
    if not syntax.is_little_endian or syntax.is_deflated:
        assert scanned is None  # big endian and deflated files are left to pydicom


@pytest.mark.parametrize("name", _FILES)
def test_metadata_from_kept_element_texts_is_the_metadata_built_whole(name: str) -> None:
    """`metadata_document` reuses the JSON text of elements an instance before had alike (`_FRAGMENTS`): with
    none kept and with all of them kept, the document is the one built whole from the header's data set."""
    path = get_testdata_file(name)
    assert path is not None
    data = Path(path).read_bytes()
    dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    head = data  # the header's bytes as kept (here with the pixel data: the walk stops before it)
    walked = header_dataset(head, True)
    identity = Identity(
        str(dataset.get("StudyInstanceUID", "1.2.3")),
        str(dataset.get("SeriesInstanceUID", "1.2.3.4")),
        str(dataset.get("SOPInstanceUID", "1.2.3.4.5")),
        str(dataset.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2")),
        str(dataset.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2.1")),
        "PixelData" in pydicom.dcmread(path, force=True),
    )
    expected = _dumps(_metadata(walked if walked is not None else dataset, identity))
    _FRAGMENTS.clear()
    assert metadata_document(head, identity) == expected
    assert _FRAGMENTS or walked is None  # kept from the first build...
    assert metadata_document(head, identity) == expected  # ...and used by the second


def test_a_series_metadata_differs_where_its_instances_differ() -> None:
    """Kept element texts are found by value: two instances alike but for their position and number each get theirs."""
    study = generate_uid()
    documents = []
    for number in (1, 2):
        ds = make_instance(study)
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [0, 0, number * 2.5]
        data = part10_bytes(ds)
        identity = Identity(study, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SOPClassUID, ds.file_meta.TransferSyntaxUID, True)
        documents.append(json.loads(metadata_document(data[:HEADER_PREFIX], identity)))
    assert [document["00200013"]["Value"] for document in documents] == [[1], [2]]
    assert [document["00200032"]["Value"][2] for document in documents] == [2.5, 5.0]
    assert documents[0]["00100010"] == documents[1]["00100010"]
