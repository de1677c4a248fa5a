"""What every transaction of records does: authenticate, replay, answer each record, remember the answer.

One message is one unit of work: its records and its msgid are committed together, so a replay never writes
twice and a failure leaves nothing half-written. Messages arriving together share one transaction and one
fsync (the database's message group commit); each is answered only once that commit is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from mie.contract.validation import FieldError
from mie.service.answers import Answer, MieError, RecordResult, record_results_answer
from mie.service.envelope import Envelope, remember_answer, replayed_answer
from mie.service.institutions import authenticate
from mie.store.database import Batch, CleanRefusal, Database
from mie.store.repository import Repository

log = logging.getLogger("mie.messages")
_T = TypeVar("_T")


class _RefusedBeforeWriting(CleanRefusal):
    """A message refused before it wrote anything (key, replay conflict): the rest of its batch goes on."""

    def __init__(self, error: MieError) -> None:
        super().__init__(error.message)
        self.error = error


def with_retry(database: Database, work: Callable[[Repository], _T]) -> _T:
    """Run a unit of work in the message group commit; on a unique-key race with a concurrent message of
    another process, run it again (it then sees the winner). A refusal is raised as the MieError it is."""

    def job(batch: Batch) -> _T:
        return work(batch.repository)

    for attempt in range(3):
        try:
            return database.message_commit.run(job)
        except _RefusedBeforeWriting as refusal:
            raise refusal.error from None
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("retrying after a concurrent write of the same key")
    raise AssertionError("unreachable")


def answer_message(database: Database, envelope: Envelope, records: Callable[[Repository, str], list[RecordResult]]) -> Answer:
    def work(repository: Repository) -> Answer:
        try:
            institution = authenticate(repository, envelope.institution_code, envelope.key)
            previous = replayed_answer(repository, institution, envelope)
        except MieError as error:  # nothing written yet: the other messages of the batch are not disturbed
            raise _RefusedBeforeWriting(error) from None
        if previous is not None:
            log.info("%s msgid=%s from %s: replay, first answer returned", envelope.infno, envelope.msgid, institution)
            return previous
        results = records(repository, institution)
        answer = record_results_answer(results)
        if envelope.notes:
            answer.body["message"] = with_notes(answer.body["message"], envelope.notes)
        remember_answer(repository, institution, envelope, answer)
        saved = sum(1 for result in results if result.saved)
        log.info("%s msgid=%s from %s: %d/%d records done", envelope.infno, envelope.msgid, institution, saved, len(results))
        return answer

    return with_retry(database, work)


def with_notes(base: str, notes: list[str]) -> str:
    return "; ".join([base, *notes]) if notes else base


def refused(index_text: str | None, errors: list[FieldError]) -> RecordResult:
    return RecordResult(index_text, False, "; ".join(str(error) for error in errors), errors)
