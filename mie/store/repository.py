"""The repository: every read and write the services make, in SQL (SQLAlchemy Core) on one connection.

A `Repository` is one unit of work: `Database.unit_of_work()` opens a transaction, and everything done
through the repository is committed together or not at all. The services never talk SQL themselves.
Core statements rather than ORM sessions on this path: the ORM's identity map and flushes cost about
three times the SQL itself for the one-message-one-transaction pattern here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from mie.store.tables import (
    AuditEvent,
    ExamRecord,
    ExamRecordHistory,
    Instance,
    Institution,
    Message,
    Report,
    SetlInfo,
    Study,
    utcnow,
)

_institution = Institution.__table__  # type: ignore[attr-defined]
_message = Message.__table__  # type: ignore[attr-defined]
_exam = ExamRecord.__table__  # type: ignore[attr-defined]
_history = ExamRecordHistory.__table__  # type: ignore[attr-defined]
_setl = SetlInfo.__table__  # type: ignore[attr-defined]
_audit = AuditEvent.__table__  # type: ignore[attr-defined]
_study = Study.__table__  # type: ignore[attr-defined]
_instance = Instance.__table__  # type: ignore[attr-defined]
_report = Report.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredStudy:
    hi_img_indx: str
    study_uid: str
    institution_code: str
    accession_numbers: str
    image_total_num: int


@dataclass(frozen=True)
class StoredInstance:
    sop_instance_uid: str
    hi_img_indx: str
    md5: str
    path: str


@dataclass(frozen=True)
class StoredMessage:
    infno: str
    body_sha256: str
    http_status: int
    answer: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class StoredExam:
    hi_img_indx: str
    institution_code: str
    version: int
    msgid: str
    record: dict[str, Any]
    received_at: datetime


# Statements are built once: building one per call (values(), where()) costs more than running it here.
_KEY_HASH = select(_institution.c.key_hash).where(_institution.c.code == bindparam("code"))
_MESSAGE = select(
    _message.c.infno, _message.c.body_sha256, _message.c.http_status, _message.c.answer, _message.c.received_at
).where(_message.c.institution_code == bindparam("institution_code"), _message.c.msgid == bindparam("msgid"))
_EXAM = select(
    *[_exam.c[name] for name in ("hi_img_indx", "institution_code", "version", "msgid", "record", "received_at")]
).where(_exam.c.hi_img_indx == bindparam("indx"))
_EXAM_OWNER = select(_exam.c.institution_code).where(_exam.c.hi_img_indx == bindparam("indx"))
_UPDATE_EXAM = update(_exam).where(_exam.c.hi_img_indx == bindparam("where_indx"))
_DELETE = {
    table.name: delete(table).where(table.c.hi_img_indx == bindparam("indx"))
    for table in (_report, _instance, _study, _setl, _history, _exam)
}
_STUDY_COLUMNS = [
    _study.c[name] for name in ("hi_img_indx", "study_uid", "institution_code", "accession_numbers", "image_total_num")
]
_STUDY = select(*_STUDY_COLUMNS).where(_study.c.hi_img_indx == bindparam("indx"), _study.c.study_uid == bindparam("uid"))
_STUDIES_OF_UID = (
    select(*_STUDY_COLUMNS)
    .where(_study.c.study_uid == bindparam("uid"), _study.c.institution_code == bindparam("institution"))
    .order_by(_study.c.registered_at)
)
_UPDATE_STUDY = update(_study).where(
    _study.c.hi_img_indx == bindparam("where_indx"), _study.c.study_uid == bindparam("where_uid")
)
_INSTANCE = select(_instance.c.sop_instance_uid, _instance.c.hi_img_indx, _instance.c.md5, _instance.c.path).where(
    _instance.c.sop_instance_uid == bindparam("uid")
)
_RECEIVED = select(_study.c.received).where(_study.c.hi_img_indx == bindparam("indx"), _study.c.study_uid == bindparam("uid"))
_COUNT_RECEIVED = (
    update(_study)
    .where(_study.c.hi_img_indx == bindparam("where_indx"), _study.c.study_uid == bindparam("where_uid"))
    .values(received=_study.c.received + 1)
    .returning(_study.c.received)
)
_INSERT_INSTANCE = insert(_instance)
_INSTANCE_PATHS_OF_EXAM = select(_instance.c.path).where(_instance.c.hi_img_indx == bindparam("indx"))
_REPORT_PATHS_OF_EXAM = select(_report.c.path).where(_report.c.hi_img_indx == bindparam("indx"))
_REPORT_VERSION = select(func.max(_report.c.version)).where(
    _report.c.hi_img_indx == bindparam("indx"), _report.c.rpot_no == bindparam("rpot_no")
)


class Repository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # institutions ---------------------------------------------------------------------------------------------
    def institution_key_hash(self, code: str) -> str | None:
        return self.connection.execute(_KEY_HASH, {"code": code}).scalar()

    # messages (msgid replay) ------------------------------------------------------------------------------------
    def message(self, institution_code: str, msgid: str) -> StoredMessage | None:
        row = self.connection.execute(_MESSAGE, {"institution_code": institution_code, "msgid": msgid}).first()
        return StoredMessage(*row) if row else None

    def add_message(
        self, institution_code: str, msgid: str, infno: str, body_sha256: str, http_status: int, answer: dict[str, Any]
    ) -> None:
        self.connection.execute(
            insert(_message),
            {
                "institution_code": institution_code,
                "msgid": msgid,
                "infno": infno,
                "body_sha256": body_sha256,
                "http_status": http_status,
                "answer": answer,
                "received_at": utcnow(),
            },
        )

    # exam records --------------------------------------------------------------------------------------------------
    def exam(self, hi_img_indx: str) -> StoredExam | None:
        row = self.connection.execute(_EXAM, {"indx": hi_img_indx}).first()
        return StoredExam(*row) if row else None

    def exam_owner(self, hi_img_indx: str) -> str | None:
        return self.connection.execute(_EXAM_OWNER, {"indx": hi_img_indx}).scalar()

    def add_exam(self, key_columns: dict[str, Any], record: dict[str, Any], settlements: Sequence[dict[str, Any]]) -> None:
        self.connection.execute(insert(_exam), {**key_columns, "record": record, "version": 1, "received_at": utcnow()})
        self._add_settlements(key_columns["hi_img_indx"], settlements)

    def replace_exam(
        self, previous: StoredExam, key_columns: dict[str, Any], record: dict[str, Any], settlements: Sequence[dict[str, Any]]
    ) -> int:
        """Move the current version to history, store the new one; returns the new version number."""
        now = utcnow()
        self.connection.execute(
            insert(_history),
            {
                "hi_img_indx": previous.hi_img_indx,
                "version": previous.version,
                "institution_code": previous.institution_code,
                "msgid": previous.msgid,
                "record": previous.record,
                "received_at": previous.received_at,
                "replaced_at": now,
            },
        )
        self.connection.execute(_DELETE[_setl.name], {"indx": previous.hi_img_indx})
        version = previous.version + 1
        self.connection.execute(
            _UPDATE_EXAM,
            {**key_columns, "record": record, "version": version, "received_at": now, "where_indx": previous.hi_img_indx},
        )
        self._add_settlements(previous.hi_img_indx, settlements)
        return version

    def _add_settlements(self, hi_img_indx: str, settlements: Sequence[dict[str, Any]]) -> None:
        if settlements:
            rows = [dict(hi_img_indx=hi_img_indx, position=position, **columns) for position, columns in enumerate(settlements)]
            self.connection.execute(insert(_setl), rows)

    def delete_exam(self, hi_img_indx: str) -> list[str]:
        """The record, its settlements, history, studies and instances; returns the instances' file paths."""
        paths = list(self.connection.execute(_INSTANCE_PATHS_OF_EXAM, {"indx": hi_img_indx}).scalars())
        paths += self.connection.execute(_REPORT_PATHS_OF_EXAM, {"indx": hi_img_indx}).scalars()
        for table in (_report, _instance, _study, _setl, _history, _exam):
            self.connection.execute(_DELETE[table.name], {"indx": hi_img_indx})
        return paths

    # studies and instances ------------------------------------------------------------------------------------------
    def study(self, hi_img_indx: str, study_uid: str) -> StoredStudy | None:
        row = self.connection.execute(_STUDY, {"indx": hi_img_indx, "uid": study_uid}).first()
        return StoredStudy(*row) if row else None

    def studies_of_uid(self, study_uid: str, institution_code: str) -> list[StoredStudy]:
        rows = self.connection.execute(_STUDIES_OF_UID, {"uid": study_uid, "institution": institution_code})
        return [StoredStudy(*row) for row in rows]

    def register_study(
        self, hi_img_indx: str, study_uid: str, institution_code: str, accession_numbers: str, image_total_num: int
    ) -> None:
        values = {
            "accession_numbers": accession_numbers,
            "image_total_num": image_total_num,
            "institution_code": institution_code,
        }
        if self.study(hi_img_indx, study_uid) is None:
            self.connection.execute(
                insert(_study), {**values, "hi_img_indx": hi_img_indx, "study_uid": study_uid, "registered_at": utcnow()}
            )
        else:
            self.connection.execute(_UPDATE_STUDY, {**values, "where_indx": hi_img_indx, "where_uid": study_uid})

    def instance(self, sop_instance_uid: str) -> StoredInstance | None:
        row = self.connection.execute(_INSTANCE, {"uid": sop_instance_uid}).first()
        return StoredInstance(*row) if row else None

    def add_instance(self, columns: dict[str, Any]) -> int:
        """The instance's row, counted on its study (the caller has made sure the study is registered);
        returns the study's count of received instances, this one included."""
        self.connection.execute(_INSERT_INSTANCE, {**columns, "received_at": utcnow()})
        counted = self.connection.execute(
            _COUNT_RECEIVED, {"where_indx": columns["hi_img_indx"], "where_uid": columns["study_uid"]}
        )
        return int(counted.scalar_one())

    def received_count(self, hi_img_indx: str, study_uid: str) -> int:
        return int(self.connection.execute(_RECEIVED, {"indx": hi_img_indx, "uid": study_uid}).scalar() or 0)

    def all_instance_paths(self) -> set[str]:
        return set(self.connection.execute(select(_instance.c.path)).scalars())

    # reports ------------------------------------------------------------------------------------------------------
    def latest_report_version(self, hi_img_indx: str, rpot_no: str) -> int:
        return int(self.connection.execute(_REPORT_VERSION, {"indx": hi_img_indx, "rpot_no": rpot_no}).scalar() or 0)

    def add_report(self, columns: dict[str, Any]) -> None:
        self.connection.execute(insert(_report), {**columns, "received_at": utcnow()})

    def all_report_paths(self) -> set[str]:
        return set(self.connection.execute(select(_report.c.path)).scalars())

    # audit ------------------------------------------------------------------------------------------------------------
    def audit(self, institution_code: str, action: str, hi_img_indx: str | None, detail: str | None) -> None:
        self.connection.execute(
            insert(_audit),
            {
                "institution_code": institution_code,
                "action": action,
                "hi_img_indx": hi_img_indx,
                "detail": detail,
                "at": utcnow(),
            },
        )
