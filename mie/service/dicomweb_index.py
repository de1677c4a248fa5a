"""What DICOMweb knows of an instance without opening its file: read from its header once, when it is stored.

`index_entry` reads a Part 10 file's header into the row of `dicomweb_instance`, from the one walk of its
top-level elements that ingest's checks use too (`walk`; pydicom, stopping before the pixel data, only for a header
the walk cannot follow): the attributes QIDO-RS matches and returns, and the instance's DICOM JSON metadata (PS3.18
Annex F) for WADO-RS. Values longer than BULK_THRESHOLD bytes (and the pixel data, never read here) are not
inline: their BulkDataURI is written relative to the DICOMweb root, which differs by caller (an institution's
root or a link's token root) and is put in front when the metadata is sent (`with_root`).

Ingest (mie/service/ingest.py) builds the entry before its group commit and inserts the row in the instance's
own transaction: an instance is stored with its entry or not at all. Instances stored before revision
0004_dicomweb have none; `backfill` reads their files once per process, on the first DICOMweb request. Rows
stored while ingest kept the header's bytes instead of the JSON get their JSON on first need (`metadata_document`).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydicom
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.tag import BaseTag
from pydicom.uid import UID, ImplicitVRLittleEndian
from sqlalchemy.exc import IntegrityError

from mie.service.part10 import Irregular, TopLevelElement, scannable, split_file, top_level_elements
from mie.store.database import Database
from mie.store.dicomweb import add_entry, instances_without_entry
from mie.store.files import FileStore

if TYPE_CHECKING:
    from mie.service.ingest import Header

log = logging.getLogger("mie.dicomweb")

BULK_THRESHOLD = 1024
"""Binary values longer than this (bytes) are sent by BulkDataURI, not inline in the metadata."""
PIXEL_DATA = "7FE00010"
AVAILABLE_TRANSFER_SYNTAX = "00083002"  # what the instance is stored in, for a viewer to know what frames it gets
BULK_KEY = '"BulkDataURI":"'  # as json.dumps writes the key and the opening quote of its value (compact)

# (column, keyword): the text attributes QIDO matches and returns, kept as the header has them.
TEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient_name", "PatientName"),
    ("patient_id", "PatientID"),
    ("patient_birth_date", "PatientBirthDate"),
    ("patient_sex", "PatientSex"),
    ("study_date", "StudyDate"),
    ("study_time", "StudyTime"),
    ("accession_number", "AccessionNumber"),
    ("study_description", "StudyDescription"),
    ("referring_physician_name", "ReferringPhysicianName"),
    ("study_id", "StudyID"),
    ("modality", "Modality"),
    ("series_description", "SeriesDescription"),
)
INTEGER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("series_number", "SeriesNumber"),
    ("instance_number", "InstanceNumber"),
    ("rows", "Rows"),
    ("columns", "Columns"),
    ("number_of_frames", "NumberOfFrames"),
)


def instance_path(study_uid: str, series_uid: str, sop_instance_uid: str) -> str:
    """The instance's WADO-RS path below the DICOMweb root."""
    return f"studies/{study_uid}/series/{series_uid}/instances/{sop_instance_uid}"


def index_entry(
    header: Header, head: bytes, whole: bool, read_whole: Callable[[], Dataset], walked: Walk | None = None
) -> dict[str, Any]:
    """The row of `dicomweb_instance` for a stored instance (without its exam and institution, which the caller
    adds), from `head`, the file's first bytes (`whole`: all of it): what QIDO matches, and the instance's DICOM
    JSON metadata, built here once (`_document`: for the instances of a series after the first, mostly the kept
    text of elements alike) so that no request builds it. A header the walk cannot follow (big endian, deflated,
    irregular, longer than `head`) is read by pydicom from the file (`read_whole` reads it). An unreadable header
    gives an entry of what `header` says (UIDs, numbers): never a refusal. `walked`: the walk of `head` ingest
    read `header` from, not walked again."""
    found = (walked.spans,) if walked is not None and walked.head is head else _spans(head, whole)
    if found is None:
        try:
            dataset = read_whole()
        except Exception as error:  # untrusted bytes: pydicom fails in many ways; the instance is stored all the same
            log.warning("DICOMweb: header of instance %s unreadable (%s)", header.sop_instance_uid, type(error).__name__)
            dataset = Dataset()
        metadata = _metadata(dataset, Identity.of(header))
        return {**_columns(metadata, header), "dicom_json": _dumps(metadata), "header": None}
    spans = found[0]
    wanted = Dataset({raw.tag: raw for raw in (_raw(head, span) for span in spans if span[0] in _COLUMN_TAGS)})
    document = _document(head, spans, Identity.of(header))
    return {**_columns(dicom_json(wanted, _no_bulk), header), "dicom_json": document, "header": None}


@dataclass(frozen=True)
class Identity:
    """What the metadata says of an instance beside its header: its UIDs, transfer syntax, whether it has pixels."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    has_pixels: bool

    @classmethod
    def of(cls, header: Header) -> Identity:
        return cls(
            header.study_uid,
            header.series_uid,
            header.sop_instance_uid,
            header.sop_class_uid,
            header.transfer_syntax_uid,
            header.rows is not None,
        )


def metadata_document(header_bytes: bytes, identity: Identity) -> str:
    """The instance's DICOM JSON, from the header bytes ingest kept (the file from its start to the pixel data):
    the same text as `_dumps(_metadata(...))` of the header (tests/test_dicomweb_index.py compares them), built
    from each element's JSON text as kept in `_FRAGMENTS` when an instance before had the same element."""
    spans = _spans(header_bytes, True)
    if spans is not None:
        return _document(header_bytes, spans[0], identity)
    try:
        dataset = pydicom.dcmread(DicomBytesIO(header_bytes), stop_before_pixels=True, force=True)
    except Exception as error:  # as in index_entry
        log.warning("DICOMweb: header of instance %s unreadable (%s)", identity.sop_instance_uid, type(error).__name__)
        dataset = Dataset()
    return _dumps(_metadata(dataset, identity))


# The JSON text (`"TTTTTTTT":{...}`) of an element, by what decides it: the data set's character set, and the
# element's VR encoding (an implicit sequence of undefined length is read as implicit), tag, VR and value bytes.
# The instances of a series share most of their elements (patient, study, equipment, geometry): most of a CT's
# are converted for its first instance only. Text naming the instance (a BulkDataURI) is never kept. Emptied when full.
_FRAGMENTS: dict[tuple[bytes, bool, int, str | None, bytes], str] = {}
_FRAGMENTS_KEPT = 50_000
_FRAGMENT_VALUE_BYTES = 1024  # longer values are converted each time (rare; as keys they would cost memory)
_SPECIFIC_CHARACTER_SET = 0x00080005
_BITS_ALLOCATED = 0x00280100
# what `_metadata` writes from the instance's identity, whatever its header says
_IDENTITY_TAGS = frozenset(
    int(_tag_hex, 16)
    for _tag_hex in (
        "0020000D",  # StudyInstanceUID
        "0020000E",  # SeriesInstanceUID
        "00080018",  # SOPInstanceUID
        "00080016",  # SOPClassUID
        AVAILABLE_TRANSFER_SYNTAX,
        PIXEL_DATA,
    )
)


def _document(head: bytes, spans: list[_Span], identity: Identity) -> str:
    base = instance_path(identity.study_uid, identity.series_uid, identity.sop_instance_uid)

    def bulk(element: DataElement) -> str:
        return f"{base}/bulk/{element.tag:08X}"

    charset = b""
    bits_allocated = 16
    for tag, vr, _implicit, begin, end in spans:
        if tag == _SPECIFIC_CHARACTER_SET:
            charset = head[begin:end]
        elif tag == _BITS_ALLOCATED and end - begin == 2 and vr == "US":
            bits_allocated = struct.unpack_from("<H", head, begin)[0] or 16
    encodings: list[str] | None = None
    dataset: Dataset | None = None
    fragments: dict[int, str] = {}
    for tag, vr, implicit, begin, end in spans:
        if tag in _IDENTITY_TAGS:
            continue
        value = head[begin:end]
        key = (charset, implicit, tag, vr, value) if end - begin <= _FRAGMENT_VALUE_BYTES else None
        fragment = _FRAGMENTS.get(key) if key is not None else None
        if fragment is None:
            if encodings is None:
                encodings = convert_encodings(_character_set_of(charset))
            raw = _raw(head, (tag, vr, implicit, begin, end))
            try:
                element = _fast_element(raw, encodings, bulk)
                if element is None:
                    if dataset is None:
                        dataset = Dataset({other.tag: other for other in (_raw(head, span) for span in spans)})
                    element = dataset[raw.tag].to_json_dict(bulk, BULK_THRESHOLD)
            except Exception as error:  # as in dicom_json: left out, the rest kept
                log.warning("DICOMweb: element %s not convertible to DICOM JSON (%s)", raw.tag, type(error).__name__)
                continue
            fragment = _fragment(f"{tag:08X}", element)
            if key is not None and BULK_KEY not in fragment:
                if len(_FRAGMENTS) >= _FRAGMENTS_KEPT:
                    _FRAGMENTS.clear()
                _FRAGMENTS[key] = fragment
        fragments[tag] = fragment
    for tag_hex, uid in (
        ("0020000D", identity.study_uid),
        ("0020000E", identity.series_uid),
        ("00080018", identity.sop_instance_uid),
        ("00080016", identity.sop_class_uid),
        (AVAILABLE_TRANSFER_SYNTAX, identity.transfer_syntax_uid),
    ):
        fragments[int(tag_hex, 16)] = _fragment(tag_hex, {"vr": "UI", "Value": [uid]})
    if identity.has_pixels:
        encapsulated = UID(identity.transfer_syntax_uid).is_encapsulated
        vr = "OB" if encapsulated or bits_allocated <= 8 else "OW"
        fragments[int(PIXEL_DATA, 16)] = _fragment(PIXEL_DATA, {"vr": vr, "BulkDataURI": f"{base}/bulk/{PIXEL_DATA}"})
    return "{" + ",".join(fragments[tag] for tag in sorted(fragments)) + "}"


def _fragment(tag: str, element: dict[str, Any]) -> str:
    """An element's member of a DICOM JSON object, as `_dumps` writes it."""
    return f'"{tag}":' + json.dumps(element, ensure_ascii=False, separators=(",", ":"))


def _dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(dict(sorted(metadata.items())), ensure_ascii=False, separators=(",", ":"))


def _no_bulk(_element: DataElement) -> str:
    return ""


def _walk(head: bytes, whole: bool, only: frozenset[int] | None = None) -> tuple[Dataset, int] | None:
    """The header's elements, found by mie's walk of the element headers (part10.top_level_elements) and left raw
    for `dicom_json` (pydicom's reader costs several times as much), and where the header ends in `head`; None
    when the walk cannot tell them all."""
    found = _raw_elements(head, whole, only)
    if found is None:
        return None
    elements, stop, _implicit = found
    return Dataset({raw.tag: raw for raw in elements}), stop


def _raw_elements(head: bytes, whole: bool, only: frozenset[int] | None = None) -> tuple[list[RawDataElement], int, bool] | None:
    """`_walk`'s elements as a list, where the header ends, and whether its VR is implicit."""
    found = _spans(head, whole, only)
    if found is None:
        return None
    spans, stop, implicit = found
    return [_raw(head, span) for span in spans], stop, implicit


# A top-level element as pydicom is to read it: tag, VR (None: pydicom decides), whether implicit, where its value
# begins and ends in the header's bytes.
_Span = tuple[int, str | None, bool, int, int]


@dataclass(frozen=True)
class Walk:
    """One walk of a Part 10 file's header (part10.top_level_elements, from the data set's start up to its pixel
    data): the DICOMweb entry is built from its `spans`, and ingest reads its header from the same `elements`
    (part10.header_of_elements), so that an instance's header is walked once when it is stored."""

    head: bytes
    transfer_syntax_uid: str
    elements: list[TopLevelElement]
    stop: int
    complete: bool
    spans: list[_Span]


def walk(head: bytes, whole: bool, only: frozenset[int] | None = None) -> Walk | None:
    """The walk of `head`, the file's first bytes (`whole`: all of it); None when it cannot tell every top-level
    element (a syntax it does not follow, irregular data, or a header longer than `head`): pydicom reads those."""
    try:
        syntax, start = split_file(head)
        if not scannable(syntax):
            return None
        implicit = syntax == ImplicitVRLittleEndian
        elements, stop, complete = top_level_elements(head, start, implicit, only)
    except Irregular:
        return None
    if not complete and not whole:
        return None
    spans: list[_Span] = []
    for tag, vr, begin, end, undefined in elements:
        if undefined and vr in (None, "UN"):  # a sequence in implicit VR (PS3.5 6.2.2), as pydicom reads it
            spans.append((tag, "SQ", True, begin, end))
        else:
            spans.append((tag, vr or _dictionary_vr(tag), implicit, begin, end))
    return Walk(head, syntax, elements, stop, complete, spans)


def _spans(head: bytes, whole: bool, only: frozenset[int] | None = None) -> tuple[list[_Span], int, bool] | None:
    walked = walk(head, whole, only)
    if walked is None:
        return None
    return walked.spans, walked.stop, walked.transfer_syntax_uid == ImplicitVRLittleEndian


def _raw(head: bytes, span: _Span) -> RawDataElement:
    tag, vr, implicit, begin, end = span
    return RawDataElement(BaseTag(tag), vr, end - begin, head[begin:end], begin, implicit, True, True, False)


def header_dataset(head: bytes, whole: bool) -> Dataset | None:
    walked = _walk(head, whole)
    return walked[0] if walked is not None else None


@functools.cache
def _dictionary_vr(tag: int) -> str | None:
    """The VR of an implicit VR element from the dictionary; None (pydicom decides) when private or ambiguous."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return None
    return None if " or " in vr else vr


def _metadata(dataset: Dataset, identity: Identity) -> dict[str, Any]:
    base = instance_path(identity.study_uid, identity.series_uid, identity.sop_instance_uid)

    def bulk(element: DataElement) -> str:
        return f"{base}/bulk/{element.tag:08X}"

    metadata = dicom_json(dataset, bulk)
    for keyword, value in (
        ("StudyInstanceUID", identity.study_uid),
        ("SeriesInstanceUID", identity.series_uid),
        ("SOPInstanceUID", identity.sop_instance_uid),
        ("SOPClassUID", identity.sop_class_uid),
    ):
        metadata[_tag(keyword)] = {"vr": "UI", "Value": [value]}
    metadata[AVAILABLE_TRANSFER_SYNTAX] = {"vr": "UI", "Value": [identity.transfer_syntax_uid]}
    if identity.has_pixels:
        encapsulated = UID(identity.transfer_syntax_uid).is_encapsulated
        eight_bits = (_json_integer(metadata.get(_tag("BitsAllocated"))) or 16) <= 8
        metadata[PIXEL_DATA] = {"vr": "OB" if encapsulated or eight_bits else "OW", "BulkDataURI": f"{base}/bulk/{PIXEL_DATA}"}
    return metadata


def _columns(metadata: dict[str, Any], header: Header) -> dict[str, Any]:
    """The index's columns, from DICOM JSON (of the whole header, or of the elements of `_COLUMN_TAGS`)."""
    entry: dict[str, Any] = {
        "sop_instance_uid": header.sop_instance_uid,
        "study_uid": header.study_uid,
        "series_uid": header.series_uid,
        "sop_class_uid": header.sop_class_uid,
        "transfer_syntax_uid": header.transfer_syntax_uid,
    }
    for column, keyword in TEXT_COLUMNS:
        entry[column] = _json_text(metadata.get(_tag(keyword)))
    for column, keyword in INTEGER_COLUMNS:
        entry[column] = _json_integer(metadata.get(_tag(keyword)))
    # what the fast header scanner read wins when the header was read less well (unreadable)
    entry["modality"] = entry["modality"] or header.modality
    entry["series_description"] = entry["series_description"] or header.series_description
    for column in ("series_number", "instance_number", "rows", "number_of_frames"):
        if entry[column] is None:
            entry[column] = getattr(header, column)
    return entry


# --- DICOM JSON (PS3.18 F.2), from the elements as read ----------------------------------------------------------------
# pydicom's Dataset.to_json_dict converts every element to a Python value and back (several times the cost of
# reading the header, on every stored instance). Here the common VRs go from their raw bytes straight to JSON
# values, as to_json_dict would write them (tests/test_dicomweb_index.py compares the two on the test corpus);
# sequences, VRs a dictionary cannot tell (implicit VR, private, US or SS) and anything unexpected go through pydicom.
_BINARY_NUMBERS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_ASCII_TEXT = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_CHARSET_TEXT = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_ONE_VALUE = frozenset({"LT", "ST", "UT", "UR"})  # a backslash is text there, not a separator
_BYTES = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_PN_DELIMITERS = {0x5E, 0x3D}  # ^ and =: where ISO 2022 escapes return to the default (PS3.5 6.1.2.5.3)


def dicom_json(dataset: Dataset, bulk: Callable[[DataElement], str]) -> dict[str, Any]:
    """The data set as a DICOM JSON object: values over BULK_THRESHOLD bytes by BulkDataURI (`bulk` names them)."""
    encodings = convert_encodings(_character_set(dataset))
    found: dict[str, Any] = {}
    for tag in dataset.keys():
        raw = dataset.get_item(tag)
        try:
            element = _fast_element(raw, encodings, bulk) if isinstance(raw, RawDataElement) else None
            if element is None:
                element = dataset[tag].to_json_dict(bulk, BULK_THRESHOLD)
        except Exception as error:  # a value pydicom cannot convert either: left out, the rest kept
            log.warning("DICOMweb: element %s not convertible to DICOM JSON (%s)", tag, type(error).__name__)
            continue
        found[f"{tag:08X}"] = element
    return found


def _character_set(dataset: Dataset) -> list[str]:
    raw = dataset.get_item(0x00080005)
    if raw is None:
        return []
    if isinstance(raw, RawDataElement):  # read here: through pydicom it costs as much as the rest of the columns
        return _character_set_of(raw.value or b"")
    value = dataset.get("SpecificCharacterSet")
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(item) for item in value]


def _character_set_of(value: bytes) -> list[str]:
    parts = [part.strip(" \x00") for part in value.decode("latin-1").split("\\")]
    return parts if any(parts) else []


def _fast_element(raw: RawDataElement, encodings: list[str], bulk: Callable[[DataElement], str]) -> dict[str, Any] | None:
    """The JSON of a raw element, or None for pydicom to convert it."""
    vr = raw.VR
    if vr is None or not raw.is_little_endian:
        return None
    data = raw.value or b""
    if vr in _BYTES:
        if not data:
            return {"vr": vr}
        if len(data) > (BULK_THRESHOLD // 4) * 3:
            return {"vr": vr, "BulkDataURI": bulk(DataElement(raw.tag, vr, b""))}
        return {"vr": vr, "InlineBinary": base64.b64encode(data).decode("ascii")}
    if vr in _BINARY_NUMBERS:
        size = struct.calcsize(_BINARY_NUMBERS[vr])
        if len(data) % size:
            return None
        if not data:
            return {"vr": vr}
        return {"vr": vr, "Value": list(struct.unpack(f"<{len(data) // size}{_BINARY_NUMBERS[vr]}", data))}
    if vr in _ASCII_TEXT:
        text = data.decode("latin-1")
    elif vr in _CHARSET_TEXT:
        text = decode_bytes(data, encodings, _PN_DELIMITERS if vr == "PN" else set())
    elif vr in ("IS", "DS"):
        text = data.decode("latin-1")
    else:
        return None  # SQ, AT, US or SS...
    if vr in ("LT", "ST", "UT"):
        text = text.rstrip(" \x00")
    else:
        text = text.strip(" \x00")
    if not text:
        return {"vr": vr}
    values: list[Any] = [text] if vr in _ONE_VALUE else text.split("\\")
    if vr == "PN":
        values = [_person_name(value.rstrip(" ")) for value in values]
    elif vr in _ASCII_TEXT or vr in _CHARSET_TEXT:
        values = [value.strip(" \x00") if vr not in ("LT", "ST", "UT") else value for value in values]
        values = [value if value != "" else None for value in values]
    elif vr == "IS":
        values = [int(value) if value.strip() else None for value in values]
    else:  # DS
        values = [float(value) if value.strip() else None for value in values]
    return {"vr": vr, "Value": values}


def _person_name(value: str) -> dict[str, str]:
    groups = value.split("=")
    named = {"Alphabetic": groups[0]}
    if len(groups) > 1:
        named["Ideographic"] = groups[1]
    if len(groups) > 2:
        named["Phonetic"] = groups[2]
    return named


@functools.cache
def _tag(keyword: str) -> str:
    return f"{pydicom.datadict.tag_for_keyword(keyword):08X}"


# what ingest converts of the header: the index's columns, and the character set their text is in
_COLUMN_TAGS = frozenset(
    pydicom.datadict.tag_for_keyword(keyword)
    for keyword in ["SpecificCharacterSet", *(k for _, k in TEXT_COLUMNS), *(k for _, k in INTEGER_COLUMNS)]
)


def _json_text(element: dict[str, Any] | None) -> str:
    """A DICOM JSON element's values as the index keeps text: values joined by backslashes, a person name's groups
    by `=` (Alphabetic=Ideographic=Phonetic, trailing empty groups left out)."""
    if not element or not element.get("Value"):
        return ""
    texts = []
    for value in element["Value"]:
        if isinstance(value, dict):
            groups = [value.get(name, "") for name in ("Alphabetic", "Ideographic", "Phonetic")]
            while groups and not groups[-1]:
                groups.pop()
            texts.append("=".join(groups))
        else:
            texts.append("" if value is None else str(value))
    return "\\".join(texts)


def _json_integer(element: dict[str, Any] | None) -> int | None:
    values = (element or {}).get("Value") or [None]
    value = values[0]
    return value if isinstance(value, int) and -(2**31) <= value < 2**31 else None


def with_root(dicom_json: str, root: str) -> str:
    """Stored metadata (one object, or a list of them) with every BulkDataURI made absolute under `root`. The key
    as written, `"BulkDataURI":"`, cannot occur inside a JSON string (its quotes would be escaped there)."""
    return dicom_json.replace(BULK_KEY, f"{BULK_KEY}{root}/")


# --- instances stored before revision 0004_dicomweb -------------------------------------------------------------------
_backfilled: set[int] = set()
_backfill_lock = threading.Lock()


def backfill(database: Database, store: FileStore) -> int:
    """Give every stored instance without an entry its entry, from its file: once per process and database (new
    instances get theirs at ingest). Returns how many were filled."""
    from mie.service.ingest import HEADER_PREFIX, header_of  # ingest imports this module

    if id(database) in _backfilled:
        return 0
    with _backfill_lock:
        if id(database) in _backfilled:
            return 0
        with database.unit_of_work() as repository:
            missing = instances_without_entry(repository)
        filled = 0
        for row in missing:
            try:
                with store.open_stored(Path(row.path)) as stored:
                    head = stored.read(HEADER_PREFIX)
                    whole = not stored.read(1)
                    walked = header_dataset(head, whole)
                    stored.seek(0)
                    dataset = walked if walked is not None else pydicom.dcmread(stored, stop_before_pixels=True, force=True)
                entry = index_entry(
                    header_of(dataset, row.transfer_syntax_uid), head, whole, functools.partial(lambda d: d, dataset)
                )
            except Exception as error:  # a file gone or unreadable: that instance stays out of DICOMweb
                log.warning("DICOMweb: stored instance %s not indexed: %s", row.sop_instance_uid, type(error).__name__)
                continue
            entry.update(hi_img_indx=row.hi_img_indx, institution_code=row.institution_code)
            try:
                with database.unit_of_work() as repository:
                    add_entry(repository, entry)
                filled += 1
            except IntegrityError:  # another process filled it meanwhile, or it was deleted
                continue
        if filled:
            log.info("DICOMweb: %d instance(s) stored before revision 0004_dicomweb indexed from their files", filled)
        _backfilled.add(id(database))
        return filled
