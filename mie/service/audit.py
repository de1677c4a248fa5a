"""The audit of retrieval: every §2.6 query, §2.7 list, §2.8 fetch and page view, refusals included.

Identity data is personal information: the audit says whose data was seen without holding the identity
number. A person is kept masked (for reading) and as an HMAC under a secret of the data directory (for
`mie audit --person`): an unkeyed hash of an 18-digit identity number could be reversed by trying the few
hundred million valid numbers. The exam's index embeds the identity number and is kept masked.

Durability: an event is written to the audit's journal (mie.store.journal: one line appended to a file of this
process by one write, no fsync) before the answer it records is handed to the HTTP server (for §2.8, before the
last bytes of the file), and committed to the database by a thread of the process shortly after, many events
in one transaction (the database's `audit_commit`, a group commit that does not wait for the disk). So recording
costs a request one write(2), not a transaction. A crash of mie loses no event: the journal is in the kernel's
page cache, and the journal of a process that is gone is committed by the next one that starts (start-up
recovery, or any process's drainer), an event already committed before the crash not twice. A power cut, or a
crash of the PostgreSQL server, may lose the events of its last moment (the journal is not fsynced; SQLite
commits them with synchronous=NORMAL, PostgreSQL asynchronously), as it may the answers of that moment: waiting
for an fsync per event cost more than the rest of a §2.8 fetch. `events()` first commits what this process has
journaled; another process's events reach the database within DRAIN_SECONDS.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from time import monotonic, sleep
from typing import Any

from mie.contract.validation import mask
from mie.store.database import Batch, Database
from mie.store.journal import Journal

log = logging.getLogger("mie.audit")


class Access(StrEnum):
    query_index = "query-index"  # §2.6
    list_images = "list-images"  # §2.7
    fetch_image = "fetch-image"  # §2.8
    view_report = "view-report"  # the report page
    view_image = "view-image"  # the image page
    dicomweb = "dicomweb"  # QIDO-RS, WADO-RS, STOW-RS, WADO-URI (mie/service/dicomweb.py)


@dataclass
class AccessEvent:
    action: Access
    institution_code: str  # who asked: the querying institution, or the one a page link was issued to
    source_address: str | None
    psn_cert_type: str | None = None  # whose data: given in full, kept masked and as a keyed digest
    certno: str | None = None
    hi_img_indx: str | None = None  # which exam: given in full, kept masked
    items: int = 0  # records, instances or pages answered
    bytes_sent: int = 0
    outcome: str = "ok"  # "ok" or "refused"
    detail: str | None = None  # a short reason; never a key or a full identity number


def masked_certno(certno: str) -> str:
    """An identity number as the document's §2.6 example masks it: 110101197804050041 is 110101*****0041, the
    first six and last four characters around five stars (which do not tell the length either). Numbers too
    short to keep ten characters of get the general mask."""
    if len(certno) >= 14:
        return f"{certno[:6]}*****{certno[-4:]}"
    return mask(certno)


DRAIN_SECONDS = 0.25
"""How long the drainer lets events gather after one arrives before it commits them together."""

ADOPT_SECONDS = 10.0
"""How often a running drainer looks for the journals of processes that are gone. A worker killed while it runs
(uvicorn's supervisor kills one that misses its health check) leaves events in its journal; without this they
would wait for the next start-up."""


class AuditLog:
    def __init__(self, database: Database, secret: bytes, journal: Journal | None = None) -> None:
        """With a `journal`, events are journaled and committed in the background (see the module's note on
        durability); without one, each is committed before `record` returns."""
        self._database = database
        self._secret = secret
        self._journal = journal
        self._wake = threading.Event()
        self._drainer_pid: int | None = None
        self._draining = threading.Lock()
        if journal is not None:
            database.before_dispose(self.flush)

    def person_digest(self, psn_cert_type: str, certno: str) -> str:
        # Upper-cased: an identity number's check character X is the same person typed either way.
        person = f"{psn_cert_type}:{certno.upper()}".encode()
        return hmac.new(self._secret, person, hashlib.sha256).hexdigest()

    def record(self, event: AccessEvent) -> None:
        """Record one event: in the journal when this returns (committed shortly after), or committed."""
        person = event.psn_cert_type is not None and event.certno is not None
        columns: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(),
            "action": event.action.value,
            "institution_code": event.institution_code,
            "source_address": event.source_address,
            "person_digest": self.person_digest(event.psn_cert_type, event.certno) if person else None,  # type: ignore[arg-type]
            "person_masked": f"{event.psn_cert_type}:{masked_certno(event.certno)}" if person else None,  # type: ignore[arg-type]
            "hi_img_indx_masked": mask(event.hi_img_indx) if event.hi_img_indx else None,
            "items": event.items,
            "bytes_sent": event.bytes_sent,
            "outcome": event.outcome,
            "detail": event.detail,
        }
        if self._journal is None:
            self._commit([columns])
            return
        self._journal.append(columns)
        if self._drainer_pid != os.getpid():
            self._start_drainer()
        self._wake.set()

    def _start_drainer(self) -> None:
        with self._draining:
            if self._drainer_pid == os.getpid():
                return
            self._drainer_pid = os.getpid()
            self._wake = threading.Event()
            threading.Thread(target=self._drain_forever, name="mie-audit-drainer", daemon=True).start()
            atexit.register(self.close)

    def _drain_forever(self) -> None:
        adopt_at = 0.0
        while True:
            if monotonic() >= adopt_at:
                adopt_at = monotonic() + ADOPT_SECONDS
                try:
                    self.adopt_orphans()
                except Exception:  # the database is unreachable: the orphans stay for the next look
                    log.exception("audit events of a process that is gone could not be committed yet")
            if not self._wake.wait(timeout=max(0.0, adopt_at - monotonic())):
                continue
            sleep(DRAIN_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the database is unreachable: the events stay in the journal for the next try
                log.exception("audit events could not be committed yet; kept in the journal")
                sleep(1.0)
                self._wake.set()

    def flush(self) -> None:
        """Commit every event this process has journaled."""
        if self._journal is not None:
            with self._draining:
                self._journal.drain(self._commit)

    def close(self) -> None:
        """Commit what this process journaled and remove its journal (at the process's exit)."""
        if self._journal is not None:
            try:
                self.flush()
            except Exception:  # the database is gone: the journal stays, for the next process to commit
                log.exception("audit events could not be committed at exit; kept in the journal")
            self._journal.close()

    def adopt_orphans(self) -> int:
        """Commit the journals of processes that are gone, each event once (start-up recovery, and each drainer
        as it starts); returns how many events they held."""
        if self._journal is None:
            return 0
        return self._journal.adopt_orphans(self._commit_unless_stored)

    def _commit(self, records: list[dict[str, Any]]) -> None:
        rows = [{**record, "at": datetime.fromisoformat(record["at"])} for record in records]

        def write(batch: Batch) -> None:
            batch.repository.commit_without_waiting_for_the_disk()
            batch.repository.add_access_events(rows)

        self._database.audit_commit.run(write)

    def _commit_unless_stored(self, records: list[dict[str, Any]]) -> None:
        """A journal's records of which some may be committed already (its process died between its commit and
        emptying the journal)."""
        rows = [{**record, "at": datetime.fromisoformat(record["at"])} for record in records]
        with self._database.unit_of_work() as repository:
            repository.add_access_events([row for row in rows if not repository.has_access_event(row)])

    def events(
        self,
        person: tuple[str, str] | None = None,
        institution_code: str | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Events, oldest first; `since` and `until` are whole days (UTC), both included."""
        start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None
        digest = self.person_digest(*person) if person else None
        self.flush()
        with self._database.unit_of_work() as repository:
            return repository.access_events(digest, institution_code, start, end, limit)
