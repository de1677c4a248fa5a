"""What DICOMweb knows of an instance without opening its file: read from its header once, when it is stored.

`index_entry` reads a Part 10 file's header (pydicom, stopping before the pixel data) into the row of
`dicomweb_instance`: the attributes QIDO-RS matches and returns, and the instance's DICOM JSON metadata (PS3.18
Annex F) for WADO-RS. Values longer than BULK_THRESHOLD bytes (and the pixel data, never read here) are not
inline: their BulkDataURI is written relative to the DICOMweb root, which differs by caller (an institution's
root or a link's token root) and is put in front when the metadata is sent (`with_root`).

Ingest (mie/service/ingest.py) builds the entry before its group commit and inserts the row in the instance's
own transaction: an instance is stored with its entry or not at all. Instances stored before revision
0004_dicomweb have none; `backfill` reads their files once per process, on the first DICOMweb request.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID
from sqlalchemy.exc import IntegrityError

from mie.service.part10 import integer_string
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


def index_entry(source: Path | BinaryIO, header: Header) -> dict[str, Any]:
    """The row of `dicomweb_instance` for a stored instance (without its exam and institution, which the caller
    adds). A header pydicom cannot read gives an entry of what `header` says (UIDs, numbers): never a refusal."""
    try:
        dataset = pydicom.dcmread(source, stop_before_pixels=True, force=True)
    except Exception as error:  # untrusted bytes: pydicom fails in many ways; the instance is stored all the same
        log.warning("DICOMweb: header of instance %s unreadable (%s)", header.sop_instance_uid, type(error).__name__)
        dataset = Dataset()
    return entry_of(dataset, header)


def entry_of(dataset: Dataset, header: Header) -> dict[str, Any]:
    base = instance_path(header.study_uid, header.series_uid, header.sop_instance_uid)

    def bulk(element: DataElement) -> str:
        return f"{base}/bulk/{element.tag:08X}"

    try:
        metadata = dataset.to_json_dict(BULK_THRESHOLD, bulk, suppress_invalid_tags=True)
    except Exception as error:  # as above: a value pydicom cannot convert leaves the metadata to the index's values
        log.warning("DICOMweb: metadata of instance %s not convertible (%s)", header.sop_instance_uid, type(error).__name__)
        metadata = {}
    for keyword, value in (
        ("StudyInstanceUID", header.study_uid),
        ("SeriesInstanceUID", header.series_uid),
        ("SOPInstanceUID", header.sop_instance_uid),
        ("SOPClassUID", header.sop_class_uid),
    ):
        metadata[f"{pydicom.datadict.tag_for_keyword(keyword):08X}"] = {"vr": "UI", "Value": [value]}
    metadata[AVAILABLE_TRANSFER_SYNTAX] = {"vr": "UI", "Value": [header.transfer_syntax_uid]}
    if header.rows is not None:
        encapsulated = UID(header.transfer_syntax_uid).is_encapsulated
        eight_bits = int(dataset.get("BitsAllocated", 16) or 16) <= 8
        metadata[PIXEL_DATA] = {"vr": "OB" if encapsulated or eight_bits else "OW", "BulkDataURI": f"{base}/bulk/{PIXEL_DATA}"}
    entry: dict[str, Any] = {
        "sop_instance_uid": header.sop_instance_uid,
        "study_uid": header.study_uid,
        "series_uid": header.series_uid,
        "sop_class_uid": header.sop_class_uid,
        "transfer_syntax_uid": header.transfer_syntax_uid,
        "dicom_json": json.dumps(dict(sorted(metadata.items())), ensure_ascii=False, separators=(",", ":")),
    }
    for column, keyword in TEXT_COLUMNS:
        entry[column] = _text(dataset, keyword)
    for column, keyword in INTEGER_COLUMNS:
        entry[column] = _integer(dataset, keyword)
    # what the fast header scanner read wins when pydicom read less (an unreadable header)
    entry["modality"] = entry["modality"] or header.modality
    entry["series_description"] = entry["series_description"] or header.series_description
    for column in ("series_number", "instance_number", "rows", "number_of_frames"):
        if entry[column] is None:
            entry[column] = getattr(header, column)
    return entry


def _text(dataset: Dataset, keyword: str) -> str:
    try:
        value = dataset.get(keyword)
    except Exception:  # pydicom converts on access: a malformed value of an untrusted file fails in many ways
        return ""
    if value is None:
        return ""
    if isinstance(value, str | pydicom.valuerep.PersonName):
        return str(value)
    return "\\".join(str(item) for item in value)


def _integer(dataset: Dataset, keyword: str) -> int | None:
    try:
        value = dataset.get(keyword)
        return value if isinstance(value, int) and -(2**31) <= value < 2**31 else integer_string(value)
    except Exception:  # as in _text
        return None


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
    from mie.service.ingest import header_of  # ingest imports this module

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
                    dataset = pydicom.dcmread(stored, stop_before_pixels=True, force=True)
                entry = entry_of(dataset, header_of(dataset, row.transfer_syntax_uid))
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
