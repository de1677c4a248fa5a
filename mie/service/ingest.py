"""Ingest of one DICOM instance: the one path for HTTP (§2.2 saveImgFile) and DICOM C-STORE uploads.

The caller has spooled the file completely into the store's temporary area (hashed, fsynced). Here it is
checked (DICOM? which study, series, instance? does it belong to a registered exam of this institution?),
its row is inserted, the file is put in the storage area (renamed into place; on an object store it was put
before the transaction, under a name of its own: `FileStore.stage`), and the transaction commits: the instance
is stored once, whole, and known to the database, or not at all. Names are built only from checked UIDs.

A C-STORE's instance that no registration of its institution names (study and accession) is stored the same way,
its row in `pending_instance` instead of `instance`: no exam's until one is registered (mie/service/pending.py,
ERRATA E-UNASSIGNED-INSTANCE). HTTP and STOW-RS senders name their exam or study, and are refused instead.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Literal

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian
from sqlalchemy.exc import IntegrityError

from mie.contract.validation import mask
from mie.service.dicomweb_index import Walk, index_entry, walk
from mie.service.part10 import (
    LAST_HEADER_TAG,
    Irregular,
    file_meta,
    header_of_elements,
    integer_string,
    scan_header,
    scannable,
    split_file,
)
from mie.service.pending import attach as attach_pending
from mie.service.pending import attach_in, attach_row, dicomweb_of, registered_study
from mie.store.database import Batch, CleanRefusal, Database
from mie.store.dicomweb import add_entry, raise_revisions
from mie.store.files import (
    FileStore,
    Spooled,
    SpoolWriter,
    Staged,
    StorageUnavailable,
    UnsafeName,
    checked_uid,
    stands_for,
)
from mie.store.pending import held as held_row
from mie.store.pending import held_md5, hold
from mie.store.repository import StoredStudy, accession_list

log = logging.getLogger("mie.ingest")

DICOM_AREA = "dicom"
Source = Literal["http", "dicom", "dicomweb", "recovered"]  # §2.2, C-STORE, STOW-RS, start-up recovery
RefusalKind = Literal[
    "md5", "not_dicom", "bad_uid", "unknown_exam", "study_mismatch", "accession", "not_registered", "conflict", "not_as_announced"
]


# What each refusal is as a DICOM status: C-STORE's (PS3.4 B.2.3), and STOW-RS's FailureReason (PS3.18 10.5.3):
# the C0xx statuses are "cannot understand" with mie's reason in the last digits.
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
NOT_REGISTERED = 0xC001
INSTANCE_CONFLICT = 0xC002
PROCESSING_FAILURE = 0x0110
NOT_AS_ANNOUNCED = 0xA900  # "Data Set does not match SOP Class", also for another SOP Instance (as dcmtk's storescp)
STATUS_OF_REFUSAL: dict[RefusalKind, int] = {
    "not_dicom": CANNOT_UNDERSTAND,
    "bad_uid": CANNOT_UNDERSTAND,
    "not_registered": NOT_REGISTERED,
    "unknown_exam": NOT_REGISTERED,
    "accession": NOT_REGISTERED,
    "study_mismatch": NOT_REGISTERED,
    "conflict": INSTANCE_CONFLICT,
    "md5": PROCESSING_FAILURE,
    "not_as_announced": NOT_AS_ANNOUNCED,
}


class IngestRefused(CleanRefusal):
    """The instance is not stored; `kind` says why, for the entry point to map (HTTP code, DICOM status).
    Raised before anything is written (a CleanRefusal: the other instances of its group commit go on)."""

    def __init__(self, kind: RefusalKind, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Claim:
    """What the sender says an instance belongs to (§2.2's form fields, or §2.3's registration)."""

    hi_img_indx: str
    study_uid: str
    accession_numbers: str  # as sent: several separated by English commas
    image_total_num: int
    index_key: str  # the index's canonical spelling, which finds its exam (mie.contract IndexRule.canonical)

    def accession_list(self) -> list[str]:
        return accession_list(self.accession_numbers)


@dataclass(frozen=True)
class Header:
    """What mie reads of an instance: identity and encoding, never the pixels."""

    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax_uid: str
    accession_number: str
    character_set: str
    # What orders and labels the instance in §2.7 and on the image page, kept on its row so that neither
    # reads the file (None: absent, blank or malformed; an image is never refused for them).
    series_number: int | None = None
    instance_number: int | None = None
    number_of_frames: int | None = None
    rows: int | None = None
    modality: str = ""
    series_description: str = ""


@dataclass(frozen=True)
class Ingested:
    sop_instance_uid: str
    hi_img_indx: str
    study_uid: str
    received: int
    image_total_num: int
    duplicate: bool
    followed: bool = False  # the caller's `then` ran in the transaction that stored (or found) the instance
    pending: bool = False  # stored, its study not yet registered: no exam's until it is (mie.service.pending)

    def progress(self) -> str:
        if self.pending:
            return "检查未登记, 已暂存, 待 saveExamRpotImgInfo 或 saveImgInfo 登记后关联"
        if not self.image_total_num:  # registered by §2.1, which gives no total; §2.3 gives it
            return f"本检查已收到 {self.received} 张"
        return f"本检查已收到 {self.received}/{self.image_total_num} 张"


Then = Callable[[Batch, Ingested], None]
"""What a caller commits together with its instance (see `ingest_instance`)."""


# The attributes mie reads: pydicom then converts only these, not the whole header.
_HEADER_TAGS = [
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "AccessionNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "InstanceNumber",
    "NumberOfFrames",
    "Rows",
]


HEADER_PREFIX = 64 * 1024
"""The bytes of a file read first for its header: the attributes mie reads come before the pixel data."""
LONG_HEADER_PREFIX = 16 * 1024 * 1024
"""The bytes read for a header that runs past HEADER_PREFIX; one longer still is read by pydicom."""


def read_header(path: Path, head: bytes | None = None) -> Header:
    """The header of a Part 10 file, found by mie's scanner as the SCP finds a received data set's: in the
    file's first HEADER_PREFIX bytes (`head`, when the caller has them: an upload kept them as they were
    written), or its first LONG_HEADER_PREFIX bytes if the header runs past them. Files the scanner does not
    follow (no preamble, big endian, deflated, irregular) are read by pydicom. Character sets such as GB18030
    and GBK are decoded either way."""
    try:
        if head is None:
            with path.open("rb") as file:
                head = file.read(HEADER_PREFIX)
        data = head[:HEADER_PREFIX]
        for _ in range(2):
            try:
                syntax, start = split_file(data)
                if not scannable(syntax):
                    break
                return _checked_header(scan_header(data[start:], syntax).get, syntax)
            except Irregular:
                if len(data) < HEADER_PREFIX:
                    break
                # a header longer than the prefix: a longer one, once (never the whole file: it may be GBs)
                with path.open("rb") as file:
                    data = file.read(LONG_HEADER_PREFIX)
    except OSError as error:
        raise IngestRefused("not_dicom", f"不是有效的 DICOM 文件: {type(error).__name__}") from None
    return _read_header_with_pydicom(path)


def _read_header_with_pydicom(path: Path) -> Header:
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
    except (InvalidDicomError, EOFError, ValueError, TypeError, OSError) as error:
        raise IngestRefused("not_dicom", f"不是有效的 DICOM 文件: {type(error).__name__}") from None
    meta = getattr(dataset, "file_meta", None)
    return header_of(dataset, str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else "")


def header_of(dataset: Dataset, transfer_syntax_uid: str) -> Header:
    """The header of a data set decoded by pydicom."""
    return _checked_header(dataset.get, transfer_syntax_uid)


def header_of_received(data: bytes, transfer_syntax_uid: str) -> Header:
    """The header of a data set received over DICOM (encoded as sent, no file meta), read without decoding it;
    data sets the scanner does not follow (big endian, deflated, irregular) are decoded by pydicom."""
    try:
        return _checked_header(scan_header(data, transfer_syntax_uid).get, transfer_syntax_uid)
    except Irregular:
        pass
    try:
        stream: BinaryIO = BytesIO(
            zlib.decompress(data, -zlib.MAX_WBITS) if transfer_syntax_uid == DeflatedExplicitVRLittleEndian else data
        )
        dataset = read_dataset(
            stream,
            is_implicit_VR=transfer_syntax_uid == ImplicitVRLittleEndian,
            is_little_endian=transfer_syntax_uid != ExplicitVRBigEndian,
            stop_when=lambda tag, _vr, _length: tag > LAST_HEADER_TAG,
        )
        return header_of(dataset, transfer_syntax_uid)
    except IngestRefused:
        raise
    except Exception as error:  # untrusted bytes: pydicom fails in many ways, each one means "cannot read"
        raise IngestRefused("not_dicom", f"数据集无法解析: {type(error).__name__}") from None


def _checked_header(get: Callable[[str], object], transfer_syntax_uid: str) -> Header:
    def required(keyword: str) -> str:
        value = get(keyword)
        if value is None:
            raise IngestRefused("not_dicom", f"DICOM 文件缺少必需的属性 {keyword}")
        return checked_uid(str(value))

    try:
        header = Header(
            sop_instance_uid=required("SOPInstanceUID"),
            sop_class_uid=required("SOPClassUID"),
            study_uid=required("StudyInstanceUID"),
            series_uid=required("SeriesInstanceUID"),
            transfer_syntax_uid=checked_uid(transfer_syntax_uid) if transfer_syntax_uid else "",
            accession_number=str(get("AccessionNumber") or ""),
            character_set=_joined(get("SpecificCharacterSet")),
            series_number=_integer(get, "SeriesNumber"),
            instance_number=_integer(get, "InstanceNumber"),
            number_of_frames=_integer(get, "NumberOfFrames"),
            rows=_integer(get, "Rows"),
            modality=_label(get, "Modality", 16),
            series_description=_label(get, "SeriesDescription", 64),
        )
    except UnsafeName as error:
        raise IngestRefused("bad_uid", str(error)) from None
    if not header.transfer_syntax_uid:
        raise IngestRefused("not_dicom", "DICOM 文件缺少文件元信息 (Transfer Syntax UID)")
    return header


def _integer(get: Callable[[str], object], keyword: str) -> int | None:
    """An IS (or US) attribute as an int; None when absent, blank or malformed: never a refusal."""
    try:
        value = get(keyword)
    except Exception:  # pydicom converts on access: a malformed value of an untrusted file fails in many ways
        return None
    return value if isinstance(value, int) and -(2**31) <= value < 2**31 else integer_string(value)


def _label(get: Callable[[str], object], keyword: str, length: int) -> str:
    """A text attribute shown on the image page, cut to its VR's maximum (the column's length)."""
    try:
        value = get(keyword)
    except Exception:  # as in _integer
        return ""
    return _joined(value)[:length]


def _joined(value: object) -> str:
    """A possibly multi-valued CS as one string, values separated by backslashes as encoded."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return "\\".join(str(item) for item in value)  # type: ignore[attr-defined]


def _head(path: Path, head: bytes | None, size: int) -> tuple[bytes, bool]:
    """The file's first HEADER_PREFIX bytes (those given, or read), and whether they are the whole file."""
    if head is None:
        with path.open("rb") as file:
            head = file.read(HEADER_PREFIX)
    return head, len(head) >= size


@dataclass(frozen=True)
class Read:
    """A spooled file's header as ingest reads it (`read_spooled`), and the walk of its first bytes (`head`;
    `whole`: all of the file) that its DICOMweb entry is built from (None: the entry reads them itself)."""

    header: Header
    head: bytes
    whole: bool
    walked: Walk | None


def read_spooled(spooled: Spooled) -> Read:
    """The header of a spooled Part 10 file, the same as `read_header` reads, from the one walk of its element
    headers that its DICOMweb entry is built from too (`dicomweb_index.walk`, up to the pixel data): the header
    is walked once per stored instance. A file that walk cannot follow (or whose header it would read otherwise
    than `scan_header`) is read by `read_header`, and its entry by `index_entry`, as they read any file."""
    head = spooled.head if len(spooled.head) >= min(spooled.size, HEADER_PREFIX) else None
    try:
        head, whole = _head(spooled.path, head, spooled.size)
    except OSError as error:
        raise IngestRefused("not_dicom", f"不是有效的 DICOM 文件: {type(error).__name__}") from None
    walked = walk(head, whole) if len(head) <= HEADER_PREFIX else None  # read_header scans HEADER_PREFIX bytes
    if walked is not None:
        try:
            values = header_of_elements(head, (walked.elements, walked.stop, walked.complete))
        except Irregular:
            walked = None
        else:
            return Read(_checked_header(values.get, walked.transfer_syntax_uid), head, whole, walked)
    return Read(read_header(spooled.path, head), head, whole, None)


def _pydicom_header(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def relative_path(header: Header) -> Path:
    return Path(DICOM_AREA) / header.study_uid / header.series_uid / f"{header.sop_instance_uid}.dcm"


def ingest_instance(
    database: Database,
    store: FileStore,
    spooled: Spooled,
    *,
    institution: str,
    source: Source,
    claim: Claim | None = None,
    expected_md5: str | None = None,
    calling_ae: str | None = None,
    read: Read | None = None,
    header: Header | None = None,
    then: Then | None = None,
) -> Ingested:
    """Store one spooled instance for `institution`, or refuse it (IngestRefused) leaving nothing behind.

    `read` is the spooled file's header as the caller read it (`read_spooled`), `header` what it read of a data
    set it had in hand (the SCP's, received whole); without either the spooled file's header is read. `then`
    writes what the caller must commit with the instance (§2.2's remembered answer), in the same transaction of
    the group commit; the result says whether it ran there (`followed`: not when another process stored the
    instance first and it was found afterwards)."""
    try:
        if expected_md5 is not None and spooled.md5 != expected_md5.lower():
            raise IngestRefused("md5", f"文件 MD5 {spooled.md5} 与 fileMd5 {expected_md5} 不符")
        if read is None and header is None:
            read = read_spooled(spooled)
        # DICOMweb's entry is read from the header here, outside the group commit's lock, and stored with the row.
        if read is not None:
            header = read.header
            entry = index_entry(header, read.head, read.whole, lambda: _pydicom_header(spooled.path), read.walked)
        else:
            assert header is not None
            # the head an upload kept, if it holds the file's first HEADER_PREFIX bytes (or the whole file)
            head = spooled.head if len(spooled.head) >= min(spooled.size, HEADER_PREFIX) else None
            entry = index_entry(header, *_head(spooled.path, head, spooled.size), lambda: _pydicom_header(spooled.path))
        staged = store.stage(spooled, relative_path(header))
        try:
            arrival = _Arrival(spooled, header, institution, source, claim, calling_ae, then, staged, entry)
            result = _record(database, store, arrival)
        except BaseException:
            _unstage(store, staged)
            raise
        if result.duplicate:
            _unstage(store, staged)
    except BaseException:
        store.discard(spooled)
        raise
    store.discard(spooled)  # a duplicate's, or the spooled copy of a file the storage area copied (not moved)
    if result.pending and not result.duplicate:
        # A registration another process committed while this instance was being stored found nothing to attach.
        attach_pending(database, institution, header.study_uid)
    log.info(
        "%s instance %s of study %s from %s%s: %s (%s)",
        source,
        header.sop_instance_uid,
        header.study_uid,
        institution,
        f" ({calling_ae})" if calling_ae else "",
        ("already " if result.duplicate else "") + ("pending" if result.pending else "stored"),
        result.progress(),
    )
    return result


def ingest_received(
    database: Database,
    store: FileStore,
    data: bytes,
    transfer_syntax_uid: str,
    *,
    institution: str,
    calling_ae: str,
) -> Ingested:
    """A data set the DICOM SCP received whole (encoded as sent): its header read, then spooled behind a
    file meta header naming its transfer syntax (hashed, fsynced), then ingested like any other instance."""
    header = header_of_received(data, transfer_syntax_uid)
    spooled = store.spool_bytes([file_meta(header.sop_class_uid, header.sop_instance_uid, transfer_syntax_uid), data])
    return ingest_instance(
        database, store, spooled, institution=institution, source="dicom", calling_ae=calling_ae, header=header
    )


def receive_into_spool(store: FileStore, sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> SpoolWriter:
    """Where a data set arriving over DICOM is written as its fragments come in, never held whole: a spool file
    begun with the file meta naming the SOP class and instance its C-STORE request announced and the negotiated
    transfer syntax, hashed as it is written, its first bytes kept for the header. The caller writes the data
    set's fragments, then passes the writer to `ingest_spooled_received` (or discards it)."""
    writer = store.open_spool(keep_head=HEADER_PREFIX)
    try:
        writer.write(file_meta(sop_class_uid, sop_instance_uid, transfer_syntax_uid))
    except BaseException:
        writer.discard()
        raise
    return writer


def ingest_spooled_received(
    database: Database,
    store: FileStore,
    received: SpoolWriter | Path,
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    institution: str,
    calling_ae: str,
) -> Ingested:
    """A data set the DICOM SCP received into a file: mie's spool (`receive_into_spool`, complete but not yet
    fsynced), or a Part 10 file written elsewhere (copied into the spool a chunk at a time). It is fsynced, its
    header read from its first bytes, and ingested like any other instance. The file meta names what the request
    announced, so a data set that is not that instance is refused, as dcmtk's storescp refuses it (PS3.4 B.2.3)."""
    if isinstance(received, Path):
        with received.open("rb") as stream:
            spooled = store.spool_stream(stream, limit=None)
    else:
        try:
            spooled = received.finish(keep=True)
        except BaseException:
            received.discard()
            raise
    try:
        read = read_spooled(spooled)
        header = read.header
        if (header.sop_class_uid, header.sop_instance_uid) != (sop_class_uid, sop_instance_uid):
            raise IngestRefused(
                "not_as_announced",
                f"数据集的 SOP Class/Instance UID ({header.sop_class_uid}, {header.sop_instance_uid}) 与 C-STORE 请求的不符",
            )
    except BaseException:
        store.discard(spooled)
        raise
    return ingest_instance(
        database, store, spooled, institution=institution, source="dicom", calling_ae=calling_ae, read=read
    )


def _unstage(store: FileStore, staged: Staged) -> None:
    try:
        store.unstage(staged)
    except StorageUnavailable as error:  # left for start-up recovery: no row knows it
        log.error("a staged file not stored could not be removed: %s", error)


@dataclass(frozen=True)
class _Arrival:
    """One instance on its way in: the spooled file, what it is, and who sent it how."""

    spooled: Spooled
    header: Header
    institution: str
    source: Source
    claim: Claim | None
    calling_ae: str | None
    then: Then | None
    staged: Staged
    dicomweb_entry: dict[str, object] | None = None  # mie.service.dicomweb_index: what DICOMweb reads of it


def _record(database: Database, store: FileStore, arrival: _Arrival) -> Ingested:
    header, spooled = arrival.header, arrival.spooled
    try:
        # Committed together with whatever other instances are being stored at this moment (group commit).
        return database.group_commit.run(lambda batch: _store(batch, store, arrival))
    except IntegrityError:
        # Another process's upload of the same instance committed first (its row was inserted before ours, so
        # the file at our target is its file): this one is a duplicate or a conflict, and touches nothing on disk.
        with database.unit_of_work() as repository:
            existing = repository.instance(header.sop_instance_uid)
            received = repository.received_count(existing.hi_img_indx, header.study_uid) if existing else 0
            study = repository.study(existing.hi_img_indx, header.study_uid) if existing else None
            held = held_md5(repository, header.sop_instance_uid) if existing is None else None
        if held is not None and held == spooled.md5:
            return Ingested(header.sop_instance_uid, "", header.study_uid, 0, 0, True, pending=True)
        if existing is not None and existing.md5 == spooled.md5:
            total = study.image_total_num if study else 0
            return Ingested(header.sop_instance_uid, existing.hi_img_indx, header.study_uid, received, total, True)
        raise IngestRefused("conflict", f"实例 {header.sop_instance_uid} 已以不同内容存储") from None


def _instance_row(
    header: Header,
    study: StoredStudy | None,
    size: int,
    md5: str,
    path: Path,
    source: Source,
    institution: str,
    calling_ae: str | None,
) -> dict[str, object]:
    return {
        "sop_instance_uid": header.sop_instance_uid,
        "hi_img_indx": study.hi_img_indx if study is not None else None,
        "study_uid": header.study_uid,
        "series_uid": header.series_uid,
        "sop_class_uid": header.sop_class_uid,
        "transfer_syntax_uid": header.transfer_syntax_uid,
        "size": size,
        "md5": md5,
        "path": path.as_posix(),
        "source": source,
        "institution_code": institution,
        "calling_ae": calling_ae,
        "series_number": header.series_number,
        "instance_number": header.instance_number,
        "number_of_frames": header.number_of_frames,
        "rows": header.rows,
        "modality": header.modality,
        "series_description": header.series_description,
    }


def _store(batch: Batch, store: FileStore, arrival: _Arrival) -> Ingested:
    """One instance's part of a group commit: checks, its row, its file in place; the commit follows.

    The row goes in (and holds the instance's key) before the file takes its name; the file is made durable
    (local: its directory synced once for the whole batch; object store: confirmed on its put) and the
    transaction committed, and only then is anyone answered."""
    repository = batch.repository
    spooled, header, institution, claim = arrival.spooled, arrival.header, arrival.institution, arrival.claim
    # Every refusal comes before the first write (IngestRefused is a CleanRefusal).
    if claim is not None:
        exam = repository.exam_ref(claim.index_key)
        if exam is None or exam.institution_code != institution:
            raise IngestRefused("unknown_exam", f"索引 {mask(claim.hi_img_indx)} 不存在或不属于本机构")
        if header.study_uid != claim.study_uid:
            raise IngestRefused("study_mismatch", f"文件的 StudyInstanceUID {header.study_uid} 与 studyUid 不符")
        if header.accession_number not in claim.accession_list():
            raise IngestRefused("accession", f"文件的 AccessionNumber '{header.accession_number}' 不在 accessionNumber 中")
    elif arrival.source != "dicom" and not repository.studies_of_uid(header.study_uid, institution):
        # Only C-STORE waits for its registration (ERRATA E-UNASSIGNED-INSTANCE): a sender over HTTP names its exam.
        raise IngestRefused("not_registered", f"检查 {header.study_uid} 未经 saveImgInfo 登记")
    existing = repository.instance(header.sop_instance_uid)
    if existing is not None and existing.md5 != spooled.md5:
        raise IngestRefused("conflict", f"实例 {header.sop_instance_uid} 已以不同内容存储")
    held = held_md5(repository, header.sop_instance_uid) if existing is None else None
    if held is not None and held != spooled.md5:
        raise IngestRefused("conflict", f"实例 {header.sop_instance_uid} 已以不同内容暂存 (检查未登记)")
    study: StoredStudy | None
    if claim is not None:
        # §2.2's form registers (or updates) the study, as §2.3 would, under the exam's index as first saved.
        assert exam is not None
        repository.register_study(exam.hi_img_indx, claim.study_uid, institution, claim.accession_numbers, claim.image_total_num)
        study = repository.study(exam.hi_img_indx, claim.study_uid)
    else:
        # the registration that names its study and accession (§2.3, §2.2, or a §2.1 record), if any; a C-STORE
        # names its study and accession, no exam
        study = registered_study(repository, institution, header.study_uid, header.accession_number)
        if study is None:
            if arrival.source != "dicom":
                raise IngestRefused("accession", f"AccessionNumber '{header.accession_number}' 不在登记的影像关联编号中")
            if existing is not None:
                received = repository.received_count(existing.hi_img_indx, header.study_uid)
                found = Ingested(header.sop_instance_uid, existing.hi_img_indx, header.study_uid, received, 0, True)
                return _followed(batch, arrival, found)
            return _hold(batch, store, arrival, duplicate=held is not None)
    assert study is not None
    if held is not None:
        # the same content, pending until now: this registration takes it (its file is the one at this name)
        row = held_row(repository, header.sop_instance_uid)
        if row is not None:
            attach_row(repository, row, study)
        existing = repository.instance(header.sop_instance_uid)
    if claim is not None:
        attach_in(repository, institution, claim.study_uid)  # what else of its study was pending
    if existing is not None:
        received = repository.received_count(existing.hi_img_indx, header.study_uid)
        found = Ingested(header.sop_instance_uid, existing.hi_img_indx, header.study_uid, received, study.image_total_num, True)
        return _followed(batch, arrival, found)
    staged = arrival.staged
    received = repository.add_instance(
        _instance_row(header, study, spooled.size, spooled.md5, staged.name, arrival.source, institution, arrival.calling_ae)
    )
    if arrival.dicomweb_entry is not None:
        entry = {**arrival.dicomweb_entry, "hi_img_indx": study.hi_img_indx, "institution_code": institution}
        add_entry(repository, entry, raise_revision=False)
        # raised once per series for the whole batch, after every job's writes (see raise_revisions)
        batch.gather(
            raise_revisions, (header.study_uid, header.series_uid), lambda series: raise_revisions(repository.connection, series)
        )
    placed = store.place(spooled, staged)
    batch.if_not_committed(lambda: store.unplace(spooled, staged))
    if placed.make_durable is not None:
        batch.before_commit(placed.key, placed.make_durable)
    stored = Ingested(header.sop_instance_uid, study.hi_img_indx, header.study_uid, received, study.image_total_num, False)
    return _followed(batch, arrival, stored)


def _hold(batch: Batch, store: FileStore, arrival: _Arrival, duplicate: bool) -> Ingested:
    """A C-STORE's instance whose study no registration names: stored as any instance (its file placed and made
    durable before the commit), recorded as pending, no exam's (mie.service.pending)."""
    header, spooled = arrival.header, arrival.spooled
    if duplicate:
        return Ingested(header.sop_instance_uid, "", header.study_uid, 0, 0, True, pending=True)
    staged = arrival.staged
    row = _instance_row(
        header, None, spooled.size, spooled.md5, staged.name, arrival.source, arrival.institution, arrival.calling_ae
    )
    hold(
        batch.repository,
        {
            "sop_instance_uid": header.sop_instance_uid,
            "institution_code": arrival.institution,
            "calling_ae": arrival.calling_ae,
            "study_uid": header.study_uid,
            "accession_number": header.accession_number,
            "size": spooled.size,
            "md5": spooled.md5,
            "path": staged.name.as_posix(),
            "instance": {name: value for name, value in row.items() if name != "hi_img_indx"},
            "dicomweb": dicomweb_of(arrival.dicomweb_entry),
        },
    )
    placed = store.place(spooled, staged)
    batch.if_not_committed(lambda: store.unplace(spooled, staged))
    if placed.make_durable is not None:
        batch.before_commit(placed.key, placed.make_durable)
    return Ingested(header.sop_instance_uid, "", header.study_uid, 0, 0, False, pending=True)


def _followed(batch: Batch, arrival: _Arrival, ingested: Ingested) -> Ingested:
    """The caller's `then`, in the instance's transaction (a failure there rolls the instance back too)."""
    if arrival.then is None:
        return ingested
    arrival.then(batch, ingested)
    return dataclasses.replace(ingested, followed=True)


def adopt_instance(database: Database, store: FileStore, relative: Path) -> bool:
    """Start-up recovery of an instance file that no row knows: register it again if it is a complete
    instance, under the name its own UIDs give, of a registered study; False (the caller removes it) if not.

    Such a file was fsynced under its final name before its row's commit, and the row is missing because
    the commit did not survive: a power cut took the group commit's last batches (see GroupCommit), or the
    process died between placing the file and committing, before any answer. Either way the file is whole,
    and keeping it is right: if it was acknowledged it must not be lost, and if it was not, the sender sends
    it again and finds it already stored."""
    # read through a copy in the spool (a chunk at a time), wherever the storage area keeps it: recovery is rare
    with store.open_stored(relative) as stored:
        copy = store.spool_stream(stored)
    try:
        return _adopt(database, relative, copy)
    finally:
        store.discard(copy)


def _adopt(database: Database, relative: Path, copy: Spooled) -> bool:
    try:
        header = read_header(copy.path)
    except IngestRefused:
        return False
    if not stands_for(relative, relative_path(header)):
        return False
    with database.unit_of_work() as repository:
        studies = repository.studies_of_uid_any_institution(header.study_uid)
        registered = [study for study in studies if header.accession_number in study.accession_list()]
        if not registered or repository.instance(header.sop_instance_uid) is not None:
            return False
        study = registered[0]
        received = repository.add_instance(
            _instance_row(
                header, study, copy.size, copy.md5, relative, "recovered", study.institution_code, None
            )
        )
        entry = index_entry(header, *_head(copy.path, None, copy.size), read_whole=lambda: _pydicom_header(copy.path))
        add_entry(repository, {**entry, "hi_img_indx": study.hi_img_indx, "institution_code": study.institution_code})
    adopted = Ingested(header.sop_instance_uid, study.hi_img_indx, header.study_uid, received, study.image_total_num, False)
    log.warning(
        "recovery: instance %s of study %s registered again from its file (%s)",
        header.sop_instance_uid,
        header.study_uid,
        adopted.progress(),
    )
    return True
