"""The database tables.

Storage choice (documented in spec/ERRATA.md, "Storage"): each exam record is kept whole, as the validated
JSON the spec describes, beside a few indexed key columns that mie searches and joins on. A spec revision
that adds or lengthens a field therefore needs no schema change at all; only a new *key* column (something
mie must search by) needs a migration. Any change here needs its revision in mie/store/migrations/versions/
(README, "When the specification changes"); tests/test_migrations.py fails until the revisions make these tables.
The V1.2 revision's 影像详情表 and 影像详情历史表 are `exam_record`
and `exam_record_history`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from mie.contract import current

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def spec_field(*names: str, **options: Any) -> Any:
    """A column holding the spec's field(s) `names`: as long as the longest maxLength the spec gives them, so no
    value a transaction accepts can fail in PostgreSQL. `info["spec_fields"]` lets tests check every such column."""
    return Field(max_length=current().max_length(*names), sa_column_kwargs={"info": {"spec_fields": names}}, **options)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Institution(SQLModel, table=True):
    """A 医疗机构 or 检查检验机构 allowed to send to this processor (infCode / fixmedinsCode)."""

    __tablename__ = "institution"

    code: str = spec_field("infCode", "fixmedinsCode", primary_key=True)
    name: str | None = Field(default=None, max_length=255)
    key_hash: str = Field(max_length=255)  # scrypt; the key itself is never stored
    ae_title: str | None = Field(default=None, max_length=16, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class InstitutionSource(SQLModel, table=True):
    """A network an institution's queries (§2.6-§2.8) may come from without a key (`mie institution allow`).

    A table of its own, so that the allow-list needed no change to `institution`."""

    __tablename__ = "institution_source"

    institution_code: str = Field(primary_key=True, max_length=30, foreign_key="institution.code")
    network: str = Field(primary_key=True, max_length=50)  # CIDR as ipaddress writes it: 10.1.2.0/24, 10.1.2.3/32
    added_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    """Each accepted message (msgid) with its answer: a replay gets the same answer and writes nothing."""

    __tablename__ = "message"

    institution_code: str = spec_field("infCode", "fixmedinsCode", primary_key=True)
    msgid: str = spec_field("msgid", primary_key=True)
    infno: str = spec_field("infno")
    body_sha256: str = Field(max_length=64)
    http_status: int
    answer: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class ExamRecord(SQLModel, table=True):
    """影像详情表: the current version of each exam record (§2.1 input), keyed by hiImgIndx as first saved, and found
    by `index_key`, the index in its canonical spelling (ERRATA E-INDEX-SPELLING, revision 0005_index_key): every
    other table refers to the exam by `hi_img_indx`, so a resend in another spelling changes no reference."""

    __tablename__ = "exam_record"
    __table_args__ = (
        Index("ix_exam_record_person", "psn_cert_type", "certno", "exam_date"),
        Index("ux_exam_record_index_key", "index_key", unique=True),
    )

    hi_img_indx: str = spec_field("hiImgIndx", primary_key=True)
    index_key: str = spec_field("hiImgIndx")  # mie.contract IndexRule.canonical(hi_img_indx)
    institution_code: str = spec_field("infCode", "fixmedinsCode", index=True)
    psn_cert_type: str = spec_field("psnCertType")
    certno: str = spec_field("certno")
    exam_date: str = Field(max_length=10)  # yyyy-MM-dd, sorts as text
    study_uid: str = spec_field("studyUid", index=True)
    version: int = 1
    msgid: str = spec_field("msgid")
    record: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class ExamRecordHistory(SQLModel, table=True):
    """影像详情历史表: every version an upload replaced."""

    __tablename__ = "exam_record_history"
    __table_args__ = (UniqueConstraint("hi_img_indx", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    hi_img_indx: str = spec_field("hiImgIndx", index=True)
    version: int
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    msgid: str = spec_field("msgid")
    record: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    received_at: datetime
    replaced_at: datetime = Field(default_factory=utcnow)


class SetlInfo(SQLModel, table=True):
    """结算信息 (SetlInfoDTO) of the current version of an exam record, one row per entry."""

    __tablename__ = "setl_info"

    id: int | None = Field(default=None, primary_key=True)
    hi_img_indx: str = spec_field("hiImgIndx", index=True, foreign_key="exam_record.hi_img_indx")
    position: int
    setl_id: str = spec_field("setlId")
    med_list_codg: str = spec_field("medListCodg")
    feedetl_sn: str = spec_field("feedetlSn")
    exam_part: str = Field(sa_column=Column(Text, nullable=False))


class AuditEvent(SQLModel, table=True):
    """Who did what to which record (keys never, identity numbers masked)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    action: str = Field(max_length=50)
    hi_img_indx: str | None = spec_field("hiImgIndx", default=None)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class AccessEvent(SQLModel, table=True):
    """Who looked at whose data (§2.6-§2.8 and the pages): institution, source address, person, exam, when, how much.

    The person is kept masked for reading and as a keyed digest for finding (`mie audit --person`); the exam's
    index, which embeds the identity number, is kept masked. Keys and full identity numbers are never stored.
    """

    __tablename__ = "access_event"
    __table_args__ = (
        Index("ix_access_event_person", "person_digest", "at"),
        Index("ix_access_event_institution", "institution_code", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    action: str = Field(max_length=20)
    institution_code: str = Field(max_length=30)
    source_address: str | None = Field(default=None, max_length=64)
    person_digest: str | None = Field(default=None, max_length=64)
    person_masked: str | None = Field(default=None, max_length=80)
    hi_img_indx_masked: str | None = Field(default=None, max_length=100)
    items: int = 0
    bytes_sent: int = 0
    outcome: str = Field(max_length=10)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class Study(SQLModel, table=True):
    """A study registered for an exam (§2.3 saveImgInfo, or implied by §2.2 saveImgFile), and how many images it has."""

    __tablename__ = "study"

    hi_img_indx: str = spec_field("hiImgIndx", primary_key=True, foreign_key="exam_record.hi_img_indx")
    study_uid: str = spec_field("studyUid", primary_key=True, index=True)
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    accession_numbers: str = Field(sa_column=Column(Text, nullable=False))  # as sent: comma-separated
    image_total_num: int
    received: int = 0  # instances stored for it: counted as they come, so completeness costs no scan
    registered_at: datetime = Field(default_factory=utcnow)


class Instance(SQLModel, table=True):
    """One stored DICOM instance, whichever way it came (HTTP §2.2 or DICOM C-STORE)."""

    __tablename__ = "instance"

    sop_instance_uid: str = spec_field("instUuid", primary_key=True)
    hi_img_indx: str = spec_field("hiImgIndx", index=True)
    study_uid: str = spec_field("studyUid", index=True)
    series_uid: str = spec_field("snUuid")
    sop_class_uid: str = Field(max_length=64)
    transfer_syntax_uid: str = Field(max_length=64)
    size: int
    md5: str = Field(max_length=32)
    path: str = Field(max_length=300)  # relative to the data directory
    source: str = Field(max_length=10)  # http or dicom
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    calling_ae: str | None = Field(default=None, max_length=16)
    received_at: datetime = Field(default_factory=utcnow)
    # Read from the header at ingest (revision 0003_instance_order), so that §2.7's order and the image page need
    # no file reads. Each is None when the file has none; `modality` is "" then, and None only on rows stored
    # before the revision, whose readers fall back to the file's header.
    series_number: int | None = None  # (0020,0011) IS
    instance_number: int | None = None  # (0020,0013) IS
    number_of_frames: int | None = None  # (0028,0008) IS
    rows: int | None = None  # (0028,0010) US: present when the instance has pixels
    modality: str | None = Field(default=None, max_length=16)  # (0008,0060) CS
    series_description: str | None = Field(default=None, max_length=64)  # (0008,103E) LO


class Report(SQLModel, table=True):
    """A report PDF (§2.4) of an exam; each upload of the same report is a new version, earlier ones kept."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("hi_img_indx", "rpot_no", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    hi_img_indx: str = spec_field("hiImgIndx", index=True)
    rpot_no: str = spec_field("rpotNo")
    version: int
    study_uid: str = spec_field("studyUid")
    size: int
    md5: str = Field(max_length=32)
    path: str = Field(max_length=300)  # relative to the data directory
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    received_at: datetime = Field(default_factory=utcnow)


def _text_column() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


class DicomwebInstance(SQLModel, table=True):
    """What DICOMweb matches, returns and describes of a stored instance, read from its header once, at ingest
    (revision 0004_dicomweb): the QIDO attributes of its study, series and itself, and its DICOM JSON metadata
    without pixel data (bulk data by BulkDataURI, relative to the DICOMweb root: the root is the caller's), built
    from the header's bytes on first need.
    Text values are as the header has them (PN as pydicom writes it, `Alphabetic=Ideographic=Phonetic`), "" when
    absent. An instance stored before the revision has no row until DICOMweb first reads its file."""

    __tablename__ = "dicomweb_instance"
    __table_args__ = (
        Index("ix_dicomweb_instance_scope", "institution_code", "study_uid"),
        Index("ix_dicomweb_instance_series", "study_uid", "series_uid"),
    )

    sop_instance_uid: str = spec_field("instUuid", primary_key=True)
    hi_img_indx: str = spec_field("hiImgIndx", index=True)
    institution_code: str = spec_field("infCode", "fixmedinsCode")  # who uploaded it: whose QIDO and WADO reach it
    study_uid: str = spec_field("studyUid")
    series_uid: str = spec_field("snUuid")
    sop_class_uid: str = Field(max_length=64)
    transfer_syntax_uid: str = Field(max_length=64)
    patient_name: str = _text_column()
    patient_id: str = _text_column()
    patient_birth_date: str = _text_column()
    patient_sex: str = _text_column()
    study_date: str = _text_column()
    study_time: str = _text_column()
    accession_number: str = _text_column()
    study_description: str = _text_column()
    referring_physician_name: str = _text_column()
    study_id: str = _text_column()
    modality: str = _text_column()
    series_description: str = _text_column()
    series_number: int | None = None
    instance_number: int | None = None
    rows: int | None = None
    columns: int | None = None
    number_of_frames: int | None = None
    # The DICOM JSON (one object, compact), built at ingest (mie/service/dicomweb_index.py). Rows stored while
    # ingest kept the header's bytes (the file from its start to the pixel data) instead have those, and get their
    # JSON on first need (the bytes are then dropped).
    header: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    dicom_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PendingInstance(SQLModel, table=True):
    """An instance a registered AE sent by C-STORE before its study was registered (§2.1 or §2.3): stored, but
    no exam's (revision 0006_pending_instance, ERRATA E-UNASSIGNED-INSTANCE). A table of its own, not a state of
    `instance`, so that nothing that serves instances (§2.7, §2.8, DICOMweb, the pages) can reach it: it becomes an
    `instance` row (and a `dicomweb_instance` row) when a registration names its study and accession, or it is
    removed, file and row, once it has waited longer than `mie serve --pending-days`."""

    __tablename__ = "pending_instance"
    __table_args__ = (Index("ix_pending_instance_study", "institution_code", "study_uid"),)

    sop_instance_uid: str = spec_field("instUuid", primary_key=True)
    institution_code: str = spec_field("infCode", "fixmedinsCode")
    calling_ae: str | None = Field(default=None, max_length=16)
    study_uid: str = spec_field("studyUid")
    accession_number: str = Field(sa_column=Column(Text, nullable=False))  # (0008,0050) as the file has it
    size: int
    md5: str = Field(max_length=32)
    path: str = Field(max_length=300)  # its name in the storage area: the one its `instance` row will have
    received_at: datetime = Field(default_factory=utcnow, index=True)
    # The rest of its `instance` row (without the exam) and its `dicomweb_instance` entry (without exam and
    # institution; the header's bytes in base64), read at ingest as for any instance and inserted as they are.
    instance: dict[str, Any] = Field(sa_column=Column(JSONDocument, nullable=False))
    dicomweb: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDocument, nullable=True))


class DicomwebSeries(SQLModel, table=True):
    """A series' revision (revision 0007_series_revision): raised in the same transaction as any change of its
    instances in `dicomweb_instance` (one stored, one deleted), so that every process of the processor knows a
    series' metadata it built and kept (mie/service/dicomweb.py) is still the series' own: a cheap lookup of one
    row, where counting the instances would read all of them."""

    __tablename__ = "dicomweb_series"

    study_uid: str = spec_field("studyUid", primary_key=True)
    series_uid: str = spec_field("snUuid", primary_key=True)
    revision: int = 0
