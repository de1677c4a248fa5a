"""The C-STORE hot path's own DICOM encoding (mie/service/part10.py) agrees with pydicom and pynetdicom."""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path

import pydicom
import pytest
from pynetdicom.dsutils import create_file_meta, encode_file_meta

from mie.service.ingest import Header, IngestRefused, header_of, header_of_received
from mie.service.part10 import Irregular, file_meta, integer_string, scan_header
from tests.dicom_files import dataset_bytes, make_instance, write

PYDICOM_TEST_FILES = sorted((Path(pydicom.__file__).parent / "data" / "test_files").rglob("*.dcm"))


def _header_by_pydicom(path: Path) -> Header | str:
    """What the pydicom-decoding path makes of a file: its Header, or the refusal's kind."""
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        return header_of(dataset, str(dataset.file_meta.TransferSyntaxUID))
    except IngestRefused as refusal:
        return refusal.kind


def _header_by_scan(path: Path, transfer_syntax: str) -> Header | str:
    try:
        return header_of_received(dataset_bytes(path), transfer_syntax)
    except IngestRefused as refusal:
        return refusal.kind


def test_the_scanner_reads_what_pydicom_reads_in_every_bundled_test_file() -> None:
    scanned = fallen_back = 0
    for path in PYDICOM_TEST_FILES:
        try:
            meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
            transfer_syntax = str(meta.TransferSyntaxUID)
            body = dataset_bytes(path)
        except Exception:
            continue  # not a Part 10 file with a transfer syntax (pydicom's deliberately broken samples)
        try:
            scan_header(body, transfer_syntax)
            scanned += 1
        except Irregular:
            fallen_back += 1
        assert _header_by_scan(path, transfer_syntax) == _header_by_pydicom(path), path.name
    # the comparison above ran over real variety: explicit and implicit VR, sequences of undefined length
    assert scanned >= 50 and fallen_back >= 1, (scanned, fallen_back)


def _pydicom_number(path: Path, keyword: str) -> int | None:
    value = pydicom.dcmread(path, stop_before_pixels=True).get(keyword)
    return int(value) if value not in (None, "") else None


def test_the_scanner_reads_series_and_instance_numbers_and_frames_as_pydicom_does() -> None:
    """The three integer strings of §2.7's order and the image page, straight against pydicom's values."""
    compared = {"SeriesNumber": 0, "InstanceNumber": 0, "NumberOfFrames": 0}
    for path in PYDICOM_TEST_FILES:
        try:
            transfer_syntax = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
            values = scan_header(dataset_bytes(path), transfer_syntax)
            expected = {keyword: _pydicom_number(path, keyword) for keyword in compared}
        except Exception:
            continue  # broken samples, or data sets the scanner leaves to pydicom (compared above)
        for keyword, number in expected.items():
            assert values.get(keyword) == number, (path.name, keyword)
            compared[keyword] += number is not None
    assert min(compared.values()) >= 5, compared  # real files with each of them, not only absences


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"12", 12), (b" 7 ", 7), (b"-3", -3), (b"+4", 4), (b"12.0", 12), (b"", None), (b"  ", None), (b"x1", None)]
    + [(b"1\\2", None), (b"1.5", None), (b"99999999999", None), (b"3\x00", 3)],
)
def test_integer_strings_are_read_tolerantly(raw: bytes, expected: int | None, tmp_path: Path) -> None:
    """Blank or malformed is None, never a refusal: the image is stored, without its number."""
    assert integer_string(raw.decode("ascii")) == expected
    ds = make_instance("1.2.826.0.1.3680043.8.498.7")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    ds.InstanceNumber = "424242"  # a placeholder, replaced by the raw value below
    body = dataset_bytes(write(ds, tmp_path))
    padded = raw + b" " * (len(raw) % 2)
    element = b"\x20\x00\x13\x00IS" + len(padded).to_bytes(2, "little") + padded
    placeholder = b"\x20\x00\x13\x00IS\x06\x00424242"
    assert body.count(placeholder) == 1
    values = scan_header(body.replace(placeholder, element), "1.2.840.10008.1.2.1")
    assert values["InstanceNumber"] == expected


def test_implicit_data_labelled_explicit_is_left_to_pydicom() -> None:
    path = next(p for p in PYDICOM_TEST_FILES if p.name == "SC_rgb_jpeg.dcm")  # its data set is implicit VR
    transfer_syntax = str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)
    with pytest.raises(Irregular):
        scan_header(dataset_bytes(path), transfer_syntax)
    header = header_of_received(dataset_bytes(path), transfer_syntax)
    assert header == _header_by_pydicom(path)
    assert header.sop_instance_uid.startswith("1.2.826.0.1.3680043.8.498.")


def test_chinese_accession_number_in_gb18030(tmp_path: Path) -> None:
    ds = make_instance("1.2.826.0.1.3680043.8.498.7", accession="影像0001", charset="GB18030", patient_name="张三")
    body = dataset_bytes(write(ds, tmp_path))
    values = scan_header(body, str(ds.file_meta.TransferSyntaxUID))
    assert values["AccessionNumber"] == "影像0001"
    assert values["SpecificCharacterSet"] == "GB18030"
    assert values["StudyInstanceUID"] == "1.2.826.0.1.3680043.8.498.7"


@pytest.mark.parametrize("cut", [3, 9, 40, 200])
def test_truncated_or_garbage_data_is_refused_as_not_dicom(cut: int, tmp_path: Path) -> None:
    body = dataset_bytes(write(make_instance("1.2.826.0.1.3680043.8.498.7"), tmp_path))
    with pytest.raises(IngestRefused) as refused:
        header_of_received(body[:cut], "1.2.840.10008.1.2.1")
    assert refused.value.kind == "not_dicom"
    with pytest.raises(IngestRefused) as refused:
        header_of_received(os.urandom(cut) + b"\xff" * 8, "1.2.840.10008.1.2")
    assert refused.value.kind == "not_dicom"


@pytest.mark.parametrize(
    ("sop_class", "sop_instance", "transfer_syntax"),
    [
        ("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4", "1.2.840.10008.1.2.1"),  # even lengths
        ("1.2.840.10008.5.1.4.1.1.4", "1.2.3.45", "1.2.840.10008.1.2"),  # odd lengths: padded with NUL
        ("1.2.840.10008.5.1.4.1.1.7", "2.25.1234567890123456789012345678901234567", "1.2.840.10008.1.2.4.90"),
    ],
)
def test_file_meta_is_byte_for_byte_pynetdicoms(sop_class: str, sop_instance: str, transfer_syntax: str) -> None:
    theirs = encode_file_meta(
        create_file_meta(sop_class_uid=sop_class, sop_instance_uid=sop_instance, transfer_syntax=transfer_syntax)
    )
    assert file_meta(sop_class, sop_instance, transfer_syntax) == b"\x00" * 128 + b"DICM" + theirs


def test_a_file_read_by_the_scanner_gives_what_pydicom_gives_in_every_bundled_test_file(tmp_path: Path) -> None:
    """§2.2's uploads are read by split_file and scan_header (read_header), pydicom only for what they do not follow."""
    from mie.service.ingest import _read_header_with_pydicom, read_header
    from mie.service.part10 import split_file

    scanned = 0
    for path in PYDICOM_TEST_FILES:
        try:
            expected: Header | str = _read_header_with_pydicom(path)
        except IngestRefused as refusal:
            expected = refusal.kind
        try:
            got: Header | str = read_header(path)
        except IngestRefused as refusal:
            got = refusal.kind
        assert got == expected, path.name
        try:
            split_file(path.read_bytes())
            scanned += 1
        except Irregular:
            pass
    assert scanned > len(PYDICOM_TEST_FILES) // 2  # the scanner, not only pydicom, was compared


def test_a_header_longer_than_the_first_read_is_still_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mie.service import ingest
    from mie.service.ingest import HEADER_PREFIX, read_header

    def not_pydicom(path: Path) -> Header:
        raise AssertionError("read by pydicom, not by the scanner")

    monkeypatch.setattr(ingest, "_read_header_with_pydicom", not_pydicom)

    ds = make_instance("1.2.3.4")
    ds.add_new(0x00091010, "OB", b"\x00" * (HEADER_PREFIX + 10))  # private data before the series UID
    path = write(ds, tmp_path)
    header = read_header(path)
    assert header.sop_instance_uid == ds.SOPInstanceUID and header.series_uid == ds.SeriesInstanceUID


def _explicit_element(tag: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack("<H", len(value)) + value


def test_one_walk_reads_the_header_and_the_dicomweb_entry_as_two_walks_did(tmp_path: Path) -> None:
    """Ingest reads a spooled file's header from the same walk its DICOMweb entry is built from (read_spooled):
    the same Header (or refusal) as read_header, and the same entry as index_entry's own walk, for every bundled
    test file and for files where the two walks part: an item delimiter where the header ends (scan_header's walk
    is irregular there, the top-level walk stops), and a SOP Instance UID again after the last header tag
    (scan_header's walk has stopped before it)."""
    from mie.service.dicomweb_index import index_entry
    from mie.service.ingest import HEADER_PREFIX, _pydicom_header, read_header, read_spooled
    from mie.store.files import Spooled

    ds = make_instance("1.2.3.4")
    for tag in [element.tag for element in ds if element.tag > 0x00280010]:  # the data set ends at Rows
        del ds[tag]
    plain = write(ds, tmp_path).read_bytes()
    crafted = {
        "delimiter.dcm": plain + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00",
        "late_uid.dcm": (
            plain + _explicit_element(0x00280011, b"US", b"\x00\x02") + _explicit_element(0x00080018, b"UI", b"9.9.9\x00")
        ),
    }
    for name, data in crafted.items():
        (tmp_path / name).write_bytes(data)
    walked = 0
    for path in [*PYDICOM_TEST_FILES, *(tmp_path / name for name in crafted)]:
        data = path.read_bytes()
        spooled = Spooled(path, len(data), "", data[:HEADER_PREFIX])
        try:
            expected: Header | str = read_header(path, spooled.head)
        except IngestRefused as refusal:
            expected = refusal.kind
        try:
            read = read_spooled(spooled)
        except IngestRefused as refusal:
            assert refusal.kind == expected, path.name
            continue
        assert read.header == expected, path.name
        whole = functools.partial(_pydicom_header, path)
        entry = index_entry(read.header, read.head, read.whole, whole, read.walked)
        assert entry == index_entry(expected, data[:HEADER_PREFIX], len(data) <= HEADER_PREFIX, whole)
        walked += read.walked is not None
    assert walked > len(PYDICOM_TEST_FILES) // 2  # the one walk, not only the fallback, was compared
    late = read_spooled(Spooled(tmp_path / "late_uid.dcm", 0, "", crafted["late_uid.dcm"]))
    assert late.walked is not None and late.header.sop_instance_uid == ds.SOPInstanceUID
    delimited = read_spooled(Spooled(tmp_path / "delimiter.dcm", 0, "", crafted["delimiter.dcm"]))
    assert delimited.walked is None  # read as read_header reads it
