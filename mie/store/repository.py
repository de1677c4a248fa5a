"""The repository: every read and write the services make, in SQL (SQLAlchemy Core) on one connection.

A `Repository` is one unit of work: `Database.unit_of_work()` opens a transaction, and everything done
through the repository is committed together or not at all. The services never talk SQL themselves.
Core statements rather than ORM sessions on this path: the ORM's identity map and flushes cost about
three times the SQL itself for the one-message-one-transaction pattern here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Executable, Select, bindparam, delete, func, insert, select, union, update
from sqlalchemy.exc import IntegrityError

from mie.store.tables import (
    AccessEvent,
    AuditEvent,
    DicomwebInstance,
    ExamRecord,
    ExamRecordHistory,
    Instance,
    Institution,
    InstitutionSource,
    Message,
    PendingInstance,
    Report,
    SetlInfo,
    Study,
    utcnow,
)

_institution = Institution.__table__  # type: ignore[attr-defined]
_source = InstitutionSource.__table__  # type: ignore[attr-defined]
_message = Message.__table__  # type: ignore[attr-defined]
_exam = ExamRecord.__table__  # type: ignore[attr-defined]
_history = ExamRecordHistory.__table__  # type: ignore[attr-defined]
_setl = SetlInfo.__table__  # type: ignore[attr-defined]
_audit = AuditEvent.__table__  # type: ignore[attr-defined]
_study = Study.__table__  # type: ignore[attr-defined]
_instance = Instance.__table__  # type: ignore[attr-defined]
_report = Report.__table__  # type: ignore[attr-defined]
_access = AccessEvent.__table__  # type: ignore[attr-defined]
_dicomweb = DicomwebInstance.__table__  # type: ignore[attr-defined]
_pending = PendingInstance.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredStudy:
    hi_img_indx: str
    study_uid: str
    institution_code: str
    accession_numbers: str
    image_total_num: int

    def accession_list(self) -> list[str]:
        return accession_list(self.accession_numbers)


def accession_list(accession_numbers: str) -> list[str]:
    """The accession numbers of a study, stored as sent: one string, separated by English commas (§2.3)."""
    return [number.strip() for number in accession_numbers.split(",") if number.strip()]


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


@dataclass(frozen=True)
class ExamRef:
    """Which exam an index names (in either spelling: found by its canonical key) and who stored it."""

    hi_img_indx: str  # as first saved: what every other table refers to
    institution_code: str


@dataclass(frozen=True)
class IndexedExam:
    """An exam record as §2.6 answers it: the fields of the record it was asked for, and who stored it."""

    hi_img_indx: str
    institution_code: str
    institution_name: str | None
    record: dict[str, Any]  # only the fields asked for (an absent or null one is None)


@dataclass(frozen=True)
class ListedInstance:
    """An instance of an exam as §2.7 lists it."""

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    received_at: datetime
    series_number: int | None
    instance_number: int | None


@dataclass(frozen=True)
class StoredReport:
    id: int
    hi_img_indx: str
    rpot_no: str
    version: int
    size: int
    md5: str
    path: str
    received_at: datetime


@dataclass(frozen=True)
class InstanceFile:
    """An instance as §2.8 fetches it: which exam, study and series it is of, and its file."""

    sop_instance_uid: str
    hi_img_indx: str
    study_uid: str
    series_uid: str
    size: int
    md5: str
    path: str


@dataclass(frozen=True)
class ExamInstance:
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str
    md5: str
    path: str
    series_number: int | None
    instance_number: int | None
    number_of_frames: int | None
    rows: int | None
    modality: str | None  # None: stored before revision 0003_instance_order, the header's values unknown
    series_description: str | None


# Statements are built once: building one per call (values(), where()) costs more than running it here.
_KEY_HASH = select(_institution.c.key_hash).where(_institution.c.code == bindparam("code"))
_MESSAGE = select(
    _message.c.infno, _message.c.body_sha256, _message.c.http_status, _message.c.answer, _message.c.received_at
).where(_message.c.institution_code == bindparam("institution_code"), _message.c.msgid == bindparam("msgid"))
_EXAM_COLUMNS = [_exam.c[name] for name in ("hi_img_indx", "institution_code", "version", "msgid", "record", "received_at")]
_EXAM = select(*_EXAM_COLUMNS).where(_exam.c.hi_img_indx == bindparam("indx"))
_EXAM_OF_KEY = select(*_EXAM_COLUMNS).where(_exam.c.index_key == bindparam("key"))
_EXAM_REF = select(_exam.c.hi_img_indx, _exam.c.institution_code).where(_exam.c.index_key == bindparam("key"))
_UPDATE_EXAM = update(_exam).where(_exam.c.hi_img_indx == bindparam("where_indx"))
_DELETE = {
    table.name: delete(table).where(table.c.hi_img_indx == bindparam("indx"))
    for table in (_report, _dicomweb, _instance, _study, _setl, _history, _exam)
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
_STUDIES_OF_UID_ANY_INSTITUTION = (
    select(*_STUDY_COLUMNS).where(_study.c.study_uid == bindparam("uid")).order_by(_study.c.registered_at)
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

_REPORT_COLUMNS = [
    _report.c[name] for name in ("id", "hi_img_indx", "rpot_no", "version", "size", "md5", "path", "received_at")
]
_PAGE_REPORTS = (
    select(*_REPORT_COLUMNS)
    .where(_report.c.hi_img_indx == bindparam("indx"))
    .order_by(_report.c.rpot_no, _report.c.version.desc())
)
_PAGE_REPORT = select(*_REPORT_COLUMNS).where(_report.c.id == bindparam("id"))
_PAGE_INSTANCES = (
    select(
        *[
            _instance.c[name]
            for name in (
                "sop_instance_uid",
                "study_uid",
                "series_uid",
                "sop_class_uid",
                "transfer_syntax_uid",
                "md5",
                "path",
                "series_number",
                "instance_number",
                "number_of_frames",
                "rows",
                "modality",
                "series_description",
            )
        ]
    )
    .where(_instance.c.hi_img_indx == bindparam("indx"))
    .order_by(_instance.c.study_uid, _instance.c.series_uid, _instance.c.received_at)
)


# Retrieval (§2.6-§2.8). The person's exams are found through ix_exam_record_person (psn_cert_type, certno,
# exam_date): both bounds are always given (the caller fills an open end), so the statement is one range scan.
_PERSON_EXAMS = (
    select(_exam.c.hi_img_indx, _exam.c.institution_code, _institution.c.name)
    .select_from(_exam.outerjoin(_institution, _institution.c.code == _exam.c.institution_code))
    .where(
        _exam.c.psn_cert_type == bindparam("cert_type"),
        _exam.c.certno == bindparam("certno"),
        _exam.c.exam_date >= bindparam("begin"),
        _exam.c.exam_date <= bindparam("end"),
    )
    .order_by(_exam.c.exam_date.desc(), _exam.c.hi_img_indx)
)


@functools.cache
def _person_exams(fields: tuple[str, ...]) -> Select[Any]:
    """_PERSON_EXAMS with the text of each of the record's `fields` (JSON_EXTRACT on SQLite, ->> on PostgreSQL)."""
    return _PERSON_EXAMS.add_columns(*(_exam.c.record[name].as_string() for name in fields))


_INSTANCES_OF_EXAM = (
    select(
        _instance.c.sop_instance_uid,
        _instance.c.study_uid,
        _instance.c.series_uid,
        _instance.c.received_at,
        _instance.c.series_number,
        _instance.c.instance_number,
    )
    .where(_instance.c.hi_img_indx == bindparam("indx"))
    .order_by(_instance.c.received_at, _instance.c.sop_instance_uid)
)
_INSTANCE_FILE = select(
    *[_instance.c[name] for name in ("sop_instance_uid", "hi_img_indx", "study_uid", "series_uid", "size", "md5", "path")]
).where(_instance.c.sop_instance_uid == bindparam("uid"))
_SOURCES = select(_source.c.network).where(_source.c.institution_code == bindparam("code")).order_by(_source.c.network)


class _Direct:
    """A Core statement compiled once per dialect and run on the DBAPI cursor directly.

    For the statements every stored instance runs (looking up its study and itself, inserting its row,
    counting it): SQLAlchemy's execution machinery costs about 60 us per statement, ten times the statement
    itself on SQLite, and on SQLite it is spent while holding the database's one write lock. The SQL is
    still SQLAlchemy's, compiled for the dialect; values go through the columns' own bind processors."""

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def execute(self, connection: Connection, parameters: dict[str, Any]) -> Any:
        dialect = connection.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        values = {**compiled.literals, **parameters}
        for name, processor in compiled.processors.items():
            if name in values:
                values[name] = processor(values[name])
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, [values[name] for name in compiled.order] if compiled.order is not None else values)
        except dialect.loaded_dbapi.IntegrityError as error:  # as SQLAlchemy would raise it
            raise IntegrityError(compiled.sql, values, error) from error
        return cursor

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        processors = {}
        literals = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not bind.required and bind.value is not None:  # a value written in the statement (received + 1)
                literals[name] = bind.value
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        return _Compiled(str(compiled), order, processors, literals)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order, for drivers with positional parameters
    processors: dict[str, Callable[[Any], Any]]
    literals: dict[str, Any]


_DIRECT_STUDIES_OF_UID = _Direct(_STUDIES_OF_UID)
_DIRECT_INSTANCE = _Direct(_INSTANCE)
_DIRECT_INSERT_INSTANCE = _Direct(_INSERT_INSTANCE)
_DIRECT_COUNT_RECEIVED = _Direct(_COUNT_RECEIVED)
_DIRECT_RECEIVED = _Direct(_RECEIVED)
# Every message's remembered answer (§2.2's in the ingest's group commit, per instance): through SQLAlchemy's
# execution it was the costliest statement of a §2.2 upload (about 12% of its CPU), binding the answer's JSON.
_DIRECT_INSERT_MESSAGE = _Direct(insert(_message))
# What every §2.2 upload runs besides the instance's own statements: its key, its exam's owner, its study
# (registered or updated by the form, then read back).
_DIRECT_KEY_HASH = _Direct(_KEY_HASH)
_DIRECT_EXAM_REF = _Direct(_EXAM_REF)
# What every §2.1 message runs: its msgid and each record's index looked for (new, almost always: a row found is
# then read again through SQLAlchemy, whose result types decode it), the record and its settlements inserted.
_DIRECT_MESSAGE = _Direct(_MESSAGE)
_DIRECT_EXAM_OF_KEY = _Direct(_EXAM_OF_KEY)
_DIRECT_INSERT_EXAM = _Direct(insert(_exam))
_DIRECT_INSERT_SETL = _Direct(insert(_setl).values({c.name: bindparam(c.name) for c in _setl.c if c.name != "id"}))
_DIRECT_STUDY = _Direct(_STUDY)
_DIRECT_UPDATE_STUDY = _Direct(
    update(_study)
    .where(_study.c.hi_img_indx == bindparam("where_indx"), _study.c.study_uid == bindparam("where_uid"))
    .values(
        accession_numbers=bindparam("new_accession_numbers"),
        image_total_num=bindparam("new_image_total_num"),
        institution_code=bindparam("new_institution_code"),
    )
)


class Repository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # institutions ---------------------------------------------------------------------------------------------
    def institution_key_hash(self, code: str) -> str | None:
        row = _DIRECT_KEY_HASH.execute(self.connection, {"code": code}).fetchone()
        return row[0] if row else None

    def institution_sources(self, code: str) -> list[str]:
        """The networks (CIDR) the institution's queries may come from without a key."""
        return list(self.connection.execute(_SOURCES, {"code": code}).scalars())

    def add_institution_sources(self, code: str, networks: Sequence[str]) -> None:
        known = set(self.institution_sources(code))
        fresh = [network for network in dict.fromkeys(networks) if network not in known]
        rows = [{"institution_code": code, "network": network, "added_at": utcnow()} for network in fresh]
        if rows:
            self.connection.execute(insert(_source), rows)

    def remove_institution_sources(self, code: str, networks: Sequence[str]) -> None:
        if networks:
            self.connection.execute(delete(_source).where(_source.c.institution_code == code, _source.c.network.in_(networks)))

    # messages (msgid replay) ------------------------------------------------------------------------------------
    def message(self, institution_code: str, msgid: str) -> StoredMessage | None:
        parameters = {"institution_code": institution_code, "msgid": msgid}
        if _DIRECT_MESSAGE.execute(self.connection, parameters).fetchone() is None:
            return None
        row = self.connection.execute(_MESSAGE, parameters).first()
        return StoredMessage(*row) if row else None

    def add_message(
        self, institution_code: str, msgid: str, infno: str, body_sha256: str, http_status: int, answer: dict[str, Any]
    ) -> None:
        _DIRECT_INSERT_MESSAGE.execute(
            self.connection,
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

    def exam_of_key(self, index_key: str) -> StoredExam | None:
        """The exam an index names, by its canonical key (mie.contract IndexRule.canonical)."""
        if _DIRECT_EXAM_OF_KEY.execute(self.connection, {"key": index_key}).fetchone() is None:
            return None
        row = self.connection.execute(_EXAM_OF_KEY, {"key": index_key}).first()
        return StoredExam(*row) if row else None

    def exam_ref(self, index_key: str) -> ExamRef | None:
        """Which exam an index names, by its canonical key, and its owner."""
        row = _DIRECT_EXAM_REF.execute(self.connection, {"key": index_key}).fetchone()
        return ExamRef(*row) if row else None

    def add_exam(self, key_columns: dict[str, Any], record: dict[str, Any], settlements: Sequence[dict[str, Any]]) -> None:
        _DIRECT_INSERT_EXAM.execute(self.connection, {**key_columns, "record": record, "version": 1, "received_at": utcnow()})
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
        # the exam keeps the index it was first saved with (and its key): a resend in another spelling is this exam
        columns = {name: value for name, value in key_columns.items() if name not in ("hi_img_indx", "index_key")}
        self.connection.execute(
            _UPDATE_EXAM,
            {**columns, "record": record, "version": version, "received_at": now, "where_indx": previous.hi_img_indx},
        )
        self._add_settlements(previous.hi_img_indx, settlements)
        return version

    def _add_settlements(self, hi_img_indx: str, settlements: Sequence[dict[str, Any]]) -> None:
        for position, columns in enumerate(settlements):
            _DIRECT_INSERT_SETL.execute(self.connection, {"hi_img_indx": hi_img_indx, "position": position, **columns})

    def delete_exam(self, hi_img_indx: str) -> list[str]:
        """The record, its settlements, history, studies and instances; returns the instances' file paths."""
        paths = list(self.connection.execute(_INSTANCE_PATHS_OF_EXAM, {"indx": hi_img_indx}).scalars())
        paths += self.connection.execute(_REPORT_PATHS_OF_EXAM, {"indx": hi_img_indx}).scalars()
        from mie.store.dicomweb import raise_revisions, series_of_exam  # it imports this module

        series = series_of_exam(self.connection, hi_img_indx)
        for table in (_report, _dicomweb, _instance, _study, _setl, _history, _exam):
            self.connection.execute(_DELETE[table.name], {"indx": hi_img_indx})
        raise_revisions(self.connection, series)  # last: see raise_revisions on the order of locks
        return paths

    # studies and instances ------------------------------------------------------------------------------------------
    def study(self, hi_img_indx: str, study_uid: str) -> StoredStudy | None:
        row = _DIRECT_STUDY.execute(self.connection, {"indx": hi_img_indx, "uid": study_uid}).fetchone()
        return StoredStudy(*row) if row else None

    def studies_of_uid(self, study_uid: str, institution_code: str) -> list[StoredStudy]:
        rows = _DIRECT_STUDIES_OF_UID.execute(self.connection, {"uid": study_uid, "institution": institution_code})
        return [StoredStudy(*row) for row in rows.fetchall()]

    def studies_of_uid_any_institution(self, study_uid: str) -> list[StoredStudy]:
        rows = self.connection.execute(_STUDIES_OF_UID_ANY_INSTITUTION, {"uid": study_uid})
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
            _DIRECT_UPDATE_STUDY.execute(
                self.connection,
                {**{f"new_{name}": value for name, value in values.items()}, "where_indx": hi_img_indx, "where_uid": study_uid},
            )

    def instance(self, sop_instance_uid: str) -> StoredInstance | None:
        row = _DIRECT_INSTANCE.execute(self.connection, {"uid": sop_instance_uid}).fetchone()
        return StoredInstance(*row) if row else None

    def add_instance(self, columns: dict[str, Any]) -> int:
        """The instance's row, counted on its study (the caller has made sure the study is registered);
        returns the study's count of received instances, this one included."""
        _DIRECT_INSERT_INSTANCE.execute(self.connection, {**columns, "received_at": utcnow()})
        counted = _DIRECT_COUNT_RECEIVED.execute(
            self.connection, {"where_indx": columns["hi_img_indx"], "where_uid": columns["study_uid"]}
        )
        return int(counted.fetchone()[0])

    def received_count(self, hi_img_indx: str, study_uid: str) -> int:
        row = _DIRECT_RECEIVED.execute(self.connection, {"indx": hi_img_indx, "uid": study_uid}).fetchone()
        return int(row[0] or 0) if row else 0

    def all_instance_paths(self) -> set[str]:
        """Every instance file a row knows: stored instances' and pending ones' (mie.store.pending)."""
        return set(self.connection.execute(select(_instance.c.path).union(select(_pending.c.path))).scalars())

    def stored_files(self) -> list[tuple[str, str]]:
        """Every stored file a row knows (instances, pending instances and reports), as (name, MD5), each once, in
        name order."""
        rows = self.connection.execute(
            union(
                select(_instance.c.path, _instance.c.md5),
                select(_pending.c.path, _pending.c.md5),
                select(_report.c.path, _report.c.md5),
            )
        )
        return sorted((str(path), str(md5)) for path, md5 in rows)

    # reports ------------------------------------------------------------------------------------------------------
    def latest_report_version(self, hi_img_indx: str, rpot_no: str) -> int:
        return int(self.connection.execute(_REPORT_VERSION, {"indx": hi_img_indx, "rpot_no": rpot_no}).scalar() or 0)

    def add_report(self, columns: dict[str, Any]) -> None:
        self.connection.execute(insert(_report), {**columns, "received_at": utcnow()})

    def all_report_paths(self) -> set[str]:
        return set(self.connection.execute(select(_report.c.path)).scalars())

    # retrieval (§2.6-§2.8): reads only -----------------------------------------------------------------------------
    def exams_of_person(
        self, cert_type: str, certno: str, begin: str, end: str, fields: tuple[str, ...] = ()
    ) -> list[IndexedExam]:
        """The current exam records of one person with begin <= examDate <= end (yyyy-MM-dd, compared as text),
        the most recent first, then by index; of each record, the text of `fields` (string fields), read by the
        database from the stored document: a record is not decoded whole for the few fields an answer shows."""
        parameters = {"cert_type": cert_type, "certno": certno, "begin": begin, "end": end}
        rows = self.connection.execute(_person_exams(fields), parameters)
        return [IndexedExam(row[0], row[1], row[2], dict(zip(fields, row[3:], strict=True))) for row in rows]

    def instances_of_exam(self, hi_img_indx: str) -> list[ListedInstance]:
        """The exam's stored instances in the order they were received (then by SOP Instance UID), with their
        series and instance numbers (mie.service.retrieval `in_series_order` orders them by those)."""
        return [ListedInstance(*row) for row in self.connection.execute(_INSTANCES_OF_EXAM, {"indx": hi_img_indx})]

    def instance_file(self, sop_instance_uid: str) -> InstanceFile | None:
        row = self.connection.execute(_INSTANCE_FILE, {"uid": sop_instance_uid}).first()
        return InstanceFile(*row) if row else None

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

    # access to data (§2.6-§2.8, pages) ----------------------------------------------------------------------------
    def commit_without_waiting_for_the_disk(self) -> None:
        """This transaction's commit returns before its log reaches the disk: a crash of mie loses nothing, a
        power cut (or, on PostgreSQL, a crash of its server) may lose the last commits. PostgreSQL: asynchronous
        commit; SQLite: the (non-durable) group commit's connection already commits with synchronous=NORMAL."""
        if self.connection.dialect.name == "postgresql":
            self.connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    def add_access_event(self, columns: dict[str, Any]) -> None:
        self.connection.execute(insert(_access), {"at": utcnow(), **columns})

    def add_access_events(self, rows: list[dict[str, Any]]) -> None:
        """Events with their own `at`, in one statement."""
        if rows:
            self.connection.execute(insert(_access), rows)

    def has_access_event(self, row: dict[str, Any]) -> bool:
        """Whether an event with exactly these columns is stored (an event is told apart by its time, to the
        microsecond, with the rest)."""
        query = select(_access.c.id).where(*(_access.c[name] == value for name, value in row.items() if value is not None))
        query = query.where(*(_access.c[name].is_(None) for name, value in row.items() if value is None)).limit(1)
        return self.connection.execute(query).first() is not None

    def access_events(
        self,
        person_digest: str | None = None,
        institution_code: str | None = None,
        since: datetime | None = None,
        before: datetime | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Access events, oldest first, narrowed by person, institution and a time range [since, before)."""
        query = select(_access).order_by(_access.c.at, _access.c.id)
        if person_digest is not None:
            query = query.where(_access.c.person_digest == person_digest)
        if institution_code is not None:
            query = query.where(_access.c.institution_code == institution_code)
        if since is not None:
            query = query.where(_access.c.at >= since)
        if before is not None:
            query = query.where(_access.c.at < before)
        if limit is not None:
            query = query.limit(limit)
        return [dict(row._mapping) for row in self.connection.execute(query)]

    # the report and image pages (read only) --------------------------------------------------------------------------
    def page_reports(self, hi_img_indx: str) -> list[StoredReport]:
        """The exam's report files: by report number, the newest version first."""
        rows = self.connection.execute(_PAGE_REPORTS, {"indx": hi_img_indx})
        return [StoredReport(*row) for row in rows]

    def page_report(self, report_id: int) -> StoredReport | None:
        row = self.connection.execute(_PAGE_REPORT, {"id": report_id}).first()
        return StoredReport(*row) if row else None

    def page_instances(self, hi_img_indx: str) -> list[ExamInstance]:
        """The exam's stored instances, by series and arrival, with what the page orders and labels them by (rows
        stored before revision 0003_instance_order have none: the page reads their headers)."""
        rows = self.connection.execute(_PAGE_INSTANCES, {"indx": hi_img_indx})
        return [ExamInstance(*row) for row in rows]
