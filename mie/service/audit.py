"""The audit of retrieval: every §2.6 query, §2.7 list, §2.8 fetch and page view, refusals included.

Identity data is personal information: the audit says whose data was seen without holding the identity
number. A person is kept masked (for reading) and as an HMAC under a secret of the data directory (for
`mie audit --person`): an unkeyed hash of an 18-digit identity number could be reversed by trying the few
hundred million valid numbers. The exam's index embeds the identity number and is kept masked.

Durability: an event is committed before the request it records is answered (or, for §2.8's stream, as the
stream ends), but its commit does not wait for the disk: a crash of mie loses none; a power cut, or a crash of
the PostgreSQL server, may lose the events of its last moment (SQLite synchronous=NORMAL, PostgreSQL
asynchronous commit). Waiting for an fsync per event cost more than the rest of a §2.8 fetch; events arriving together
also share one transaction (the database's `audit_commit`, a group commit).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from mie.contract.validation import mask
from mie.store.database import Batch, Database


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


class AuditLog:
    def __init__(self, database: Database, secret: bytes) -> None:
        self._database = database
        self._secret = secret

    def person_digest(self, psn_cert_type: str, certno: str) -> str:
        # Upper-cased: an identity number's check character X is the same person typed either way.
        person = f"{psn_cert_type}:{certno.upper()}".encode()
        return hmac.new(self._secret, person, hashlib.sha256).hexdigest()

    def record(self, event: AccessEvent) -> None:
        """Write one event; committed before this returns, together with the events of other requests that
        arrived meanwhile, and without waiting for the disk (see the module's note on durability)."""
        person = event.psn_cert_type is not None and event.certno is not None
        columns: dict[str, Any] = {
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
        def write(batch: Batch) -> None:
            batch.repository.commit_without_waiting_for_the_disk()
            batch.repository.add_access_event(columns)

        self._database.audit_commit.run(write)

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
        with self._database.unit_of_work() as repository:
            return repository.access_events(digest, institution_code, start, end, limit)
