"""Instances that arrive before their study is registered (ERRATA E-UNASSIGNED-INSTANCE).

A PACS forwards a study by C-STORE when it is acquired; §2.1 comes when the report is signed. An instance a
registered AE sends for a study that no registration of its institution names (study and accession) is not refused:
ingest stores it as it stores any instance (spooled, hashed, fsynced, placed under the name it will keep) and records
it as pending, in the same group commit, before the C-STORE is answered Success. Pending instances are in a table of
their own, which nothing that serves instances reads: no §2.7, §2.8, DICOMweb or page reaches them.

A pending instance is attached (its `instance` and `dicomweb_instance` rows written, its pending row removed, in one
transaction; the file does not move) when its institution registers its study with its accession number: §2.3 (or
§2.2's form, which registers as §2.3 does), or a §2.1 record whose studyUid and accessionNumber name them. Attaching
runs in the registering message's own transaction, after a pending instance's commit (a registration committed
meanwhile by another process), at start-up, and in every sweep: a crash at any point leaves the instance pending
and whole, and the next of these attaches it.

A pending instance still unattached after `--pending-days` is removed by the sweep: its row and an audit event
(`pending-expired`) in one transaction, then its file.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mie.store.database import Database
from mie.store.dicomweb import add_entry
from mie.store.files import FileStore, StorageUnavailable
from mie.store.pending import (
    PendingRow,
    all_held,
    exams_naming_study,
    held,
    held_of_study,
    held_since_before,
    held_with_a_registration,
    release,
)
from mie.store.repository import Repository, StoredStudy, accession_list

log = logging.getLogger("mie.pending")

SWEEP_SECONDS = 3600.0
ATTACHED = "pending-attached"
EXPIRED = "pending-expired"


def registered_study(repository: Repository, institution: str, study_uid: str, accession: str) -> StoredStudy | None:
    """The study an instance of this study and accession number belongs to, for `institution`; None if no
    registration names both. §2.3's (and §2.2's) registrations first, the first registered whose accession numbers
    hold it (a study may be registered for several exams, one per exam part); then the institution's §2.1 records
    whose studyUid and accessionNumber name it, of exams with no registration of that study: the study is then
    registered for that exam as §2.3 would, its total not yet known (0) until §2.3 gives it."""
    studies = repository.studies_of_uid(study_uid, institution)
    for study in studies:
        if accession in study.accession_list():
            return study
    registered = {study.hi_img_indx for study in studies}
    for hi_img_indx, accession_numbers in exams_naming_study(repository, institution, study_uid):
        if hi_img_indx not in registered and accession in accession_list(accession_numbers):
            repository.register_study(hi_img_indx, study_uid, institution, accession_numbers, 0)
            return repository.study(hi_img_indx, study_uid)
    return None


def dicomweb_of(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """A DICOMweb entry as a pending row keeps it (JSON: the header's bytes in base64)."""
    if entry is None:
        return None
    header = entry.get("header")
    return {**entry, "header": base64.b64encode(header).decode("ascii") if header is not None else None}


def attach_row(repository: Repository, row: PendingRow, study: StoredStudy) -> bool:
    """Make a pending instance the study's, in the caller's transaction; False if another took it first."""
    if not release(repository, row.sop_instance_uid):
        return False
    if repository.instance(row.sop_instance_uid) is None:
        repository.add_instance({**row.instance, "hi_img_indx": study.hi_img_indx})
        if row.dicomweb is not None:
            header = row.dicomweb.get("header")
            add_entry(
                repository,
                {
                    **row.dicomweb,
                    "header": base64.b64decode(header) if header is not None else None,
                    "hi_img_indx": study.hi_img_indx,
                    "institution_code": row.institution_code,
                },
            )
    # else: the same content was stored meanwhile under a registration (its file is this file): the row alone goes
    repository.audit(
        row.institution_code,
        ATTACHED,
        study.hi_img_indx,
        f"instance={row.sop_instance_uid} study={row.study_uid} accession={row.accession_number}",
    )
    log.info("pending instance %s of study %s attached (%s)", row.sop_instance_uid, row.study_uid, row.institution_code)
    return True


def attach_in(repository: Repository, institution: str, study_uid: str) -> int:
    """Attach, in the caller's transaction, the institution's pending instances of this study that a registration
    now names; how many. Costs one indexed look-up when none is pending (every §2.1, §2.2 and §2.3 runs it)."""
    attached = 0
    for sop_instance_uid in held_of_study(repository, institution, study_uid):
        row = held(repository, sop_instance_uid)
        if row is None:
            continue
        study = registered_study(repository, institution, study_uid, row.accession_number)
        if study is not None and attach_row(repository, row, study):
            attached += 1
    return attached


def attached_note(attached: int) -> list[str]:
    """What a registration's answer says of the pending instances it attached."""
    return [f"已关联此前经 DICOM 收到的 {attached} 张影像"] if attached else []


def attach(database: Database, institution: str | None = None, study_uid: str | None = None) -> int:
    """Attach what a registration names, each study in a transaction of its own: one study (after a pending
    instance's commit), or every study with a registration (start-up, sweep). Reads first: no write without work."""
    with database.reading() as repository:
        if institution is not None and study_uid is not None:
            studies = [(institution, study_uid)] if held_of_study(repository, institution, study_uid) else []
        else:
            studies = held_with_a_registration(repository)
    attached = 0
    for code, uid in studies:
        with database.unit_of_work() as repository:
            attached += attach_in(repository, code, uid)
    return attached


@dataclass(frozen=True)
class Pending:
    """A pending instance as `mie pending` lists it."""

    institution_code: str
    calling_ae: str | None
    study_uid: str
    accession_number: str
    sop_instance_uid: str
    size: int
    received_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, row: PendingRow, keep: timedelta) -> Pending:
        """A pending row, kept for `keep` after it was received."""
        return cls(
            row.institution_code,
            row.calling_ae,
            row.study_uid,
            row.accession_number,
            row.sop_instance_uid,
            row.size,
            row.received_at,
            row.received_at + keep,
        )


def list_pending(database: Database, days: float, institution: str | None = None) -> list[Pending]:
    with database.reading() as repository:
        rows = all_held(repository, institution)
    keep = timedelta(days=days)
    return [Pending.of(row, keep) for row in rows]


def expire(database: Database, store: FileStore, days: float, now: datetime | None = None) -> list[Pending]:
    """Remove the pending instances received more than `days` ago: each row with its audit event in one
    transaction, then its file (a crash in between leaves a file no row knows, which start-up recovery removes)."""
    keep = timedelta(days=days)
    moment = (now or datetime.now(UTC)) - keep
    with database.reading() as repository:
        candidates = held_since_before(repository, moment)
    removed: list[Pending] = []
    for row in candidates:
        with database.unit_of_work() as repository:
            if not release(repository, row.sop_instance_uid):
                continue  # attached or removed by another process meanwhile
            repository.audit(
                row.institution_code,
                EXPIRED,
                None,
                f"instance={row.sop_instance_uid} study={row.study_uid} accession={row.accession_number} "
                f"ae={row.calling_ae or ''} size={row.size} received_at={row.received_at.isoformat()} days={days:g}",
            )
        with database.reading() as repository:
            # the same instance sent again since, pending again or stored, under the same name (the local store's):
            # the file is that one's now
            again, stored = held(repository, row.sop_instance_uid), repository.instance(row.sop_instance_uid)
            in_use = row.path in {again.path if again else None, stored.path if stored else None}
        if not in_use:
            try:
                store.remove(Path(row.path))
            except (StorageUnavailable, OSError) as error:
                log.error("pending instance %s: file not removed (start-up recovery will): %s", row.sop_instance_uid, error)
        log.warning(
            "pending instance %s of study %s from %s removed: unattached for more than %g days",
            row.sop_instance_uid,
            row.study_uid,
            row.institution_code,
            days,
        )
        removed.append(Pending.of(row, keep))
    return removed


def sweep(database: Database, store: FileStore, days: float) -> tuple[int, int]:
    """Attach what can be, then remove what waited too long: (attached, removed)."""
    attached = attach(database)
    removed = len(expire(database, store, days))
    if attached or removed:
        log.info("pending sweep: %d attached, %d removed", attached, removed)
    return attached, removed


class Sweeper:
    """`mie serve`'s sweep of pending instances: now, then every `every` seconds, on a daemon thread. Every process
    of a processor may run one: each step is a transaction that finds its work gone if another did it first."""

    def __init__(self, database: Database, store: FileStore, days: float, every: float = SWEEP_SECONDS) -> None:
        self._database, self._store, self._days, self._every = database, store, days, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mie-pending-sweep", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sweep(self._database, self._store, self._days)
            except Exception:  # the database or the store down: the next sweep tries again
                log.exception("pending sweep failed")
            self._stop.wait(self._every)
