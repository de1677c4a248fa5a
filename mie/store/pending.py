"""Pending instances' reads and writes (table `pending_instance`, revision 0006_pending_instance), on a repository's
connection: instances a registered AE sent by C-STORE before their study was registered (ERRATA
E-UNASSIGNED-INSTANCE). Nothing here is read by what serves instances; mie/service/pending.py decides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select

from mie.store.repository import Repository, _Direct
from mie.store.tables import ExamRecord, PendingInstance, Study, utcnow

_pending = PendingInstance.__table__  # type: ignore[attr-defined]
_exam = ExamRecord.__table__  # type: ignore[attr-defined]
_study = Study.__table__  # type: ignore[attr-defined]

_COLUMNS = (
    _pending.c.sop_instance_uid,
    _pending.c.institution_code,
    _pending.c.calling_ae,
    _pending.c.study_uid,
    _pending.c.accession_number,
    _pending.c.size,
    _pending.c.md5,
    _pending.c.path,
    _pending.c.received_at,
    _pending.c.instance,
    _pending.c.dicomweb,
)
# Run by every instance stored and every study registered (§2.1, §2.2, §2.3, C-STORE): straight on the cursor, as the
# repository's own per-instance statements (mie.store.repository._Direct), and only the key columns.
_DIRECT_HELD = _Direct(
    select(_pending.c.md5).where(_pending.c.sop_instance_uid == bindparam("uid"))
)
_DIRECT_HELD_OF_STUDY = _Direct(
    select(_pending.c.sop_instance_uid).where(
        _pending.c.institution_code == bindparam("institution"), _pending.c.study_uid == bindparam("uid")
    )
)


@dataclass(frozen=True)
class PendingRow:
    sop_instance_uid: str
    institution_code: str
    calling_ae: str | None
    study_uid: str
    accession_number: str
    size: int
    md5: str
    path: str
    received_at: datetime  # UTC
    instance: dict[str, Any]  # its `instance` row but the exam's index
    dicomweb: dict[str, Any] | None  # its `dicomweb_instance` entry but exam and institution (header in base64)

    @classmethod
    def of(cls, row: Sequence[Any]) -> PendingRow:
        received_at = row[8]
        if received_at.tzinfo is None:  # SQLite keeps no zone: it was written in UTC
            received_at = received_at.replace(tzinfo=UTC)
        return cls(*row[:8], received_at, *row[9:])  # type: ignore[arg-type]


def hold(repository: Repository, columns: dict[str, Any]) -> None:
    """Record an instance as pending (its file is placed in the same transaction)."""
    repository.connection.execute(insert(_pending), {**columns, "received_at": utcnow()})


def held_md5(repository: Repository, sop_instance_uid: str) -> str | None:
    """The MD5 of the pending instance of this SOP Instance UID, None when none is pending."""
    row = _DIRECT_HELD.execute(repository.connection, {"uid": sop_instance_uid}).fetchone()
    return str(row[0]) if row else None


def held(repository: Repository, sop_instance_uid: str) -> PendingRow | None:
    row = repository.connection.execute(select(*_COLUMNS).where(_pending.c.sop_instance_uid == sop_instance_uid)).first()
    return PendingRow.of(row) if row else None


def held_of_study(repository: Repository, institution_code: str, study_uid: str) -> list[str]:
    """The SOP Instance UIDs pending for one study of one institution."""
    rows = _DIRECT_HELD_OF_STUDY.execute(repository.connection, {"institution": institution_code, "uid": study_uid})
    return [str(row[0]) for row in rows.fetchall()]


def release(repository: Repository, sop_instance_uid: str) -> bool:
    """Take the row out of pending; False when another transaction (an attach, an expiry) took it first."""
    result = repository.connection.execute(delete(_pending).where(_pending.c.sop_instance_uid == sop_instance_uid))
    return result.rowcount == 1


def all_held(repository: Repository, institution_code: str | None = None) -> list[PendingRow]:
    """Every pending instance (of one institution), the oldest first."""
    query = select(*_COLUMNS).order_by(_pending.c.received_at, _pending.c.sop_instance_uid)
    if institution_code is not None:
        query = query.where(_pending.c.institution_code == institution_code)
    return [PendingRow.of(row) for row in repository.connection.execute(query)]


def held_since_before(repository: Repository, moment: datetime) -> list[PendingRow]:
    """Pending instances received before `moment`."""
    query = select(*_COLUMNS).where(_pending.c.received_at < moment).order_by(_pending.c.received_at)
    return [PendingRow.of(row) for row in repository.connection.execute(query)]


def held_with_a_registration(repository: Repository) -> list[tuple[str, str]]:
    """(institution, study UID) of pending instances whose study an exam of that institution names (§2.3's or §2.2's
    registration, or §2.1's record): those the sweep tries to attach."""
    registered = select(_study.c.institution_code, _study.c.study_uid).union(
        select(_exam.c.institution_code, _exam.c.study_uid)
    ).subquery()
    query = (
        select(_pending.c.institution_code, _pending.c.study_uid)
        .join(
            registered,
            (registered.c.institution_code == _pending.c.institution_code) & (registered.c.study_uid == _pending.c.study_uid),
        )
        .distinct()
    )
    return [(str(row[0]), str(row[1])) for row in repository.connection.execute(query)]


def exams_naming_study(repository: Repository, institution_code: str, study_uid: str) -> list[tuple[str, str]]:
    """(index, accessionNumber) of the institution's exam records (§2.1) whose studyUid is this, the least recently
    saved first."""
    query = (
        select(_exam.c.hi_img_indx, _exam.c.record)
        .where(_exam.c.institution_code == institution_code, _exam.c.study_uid == study_uid)
        .order_by(_exam.c.received_at, _exam.c.hi_img_indx)
    )
    return [(str(index), str(record.get("accessionNumber") or "")) for index, record in repository.connection.execute(query)]
