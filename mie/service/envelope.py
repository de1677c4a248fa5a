"""The request envelope (infno, msgid, infTime, infCode, key, input) and msgid replay."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from generated.models import ResponseCode
from mie.contract import Contract, Transaction
from mie.contract.validation import Outcome
from mie.service.answers import Answer, MieError
from mie.store.repository import Repository


def institution_field(schema: dict[str, Any]) -> str:
    """infCode (§2.1-§2.5) or fixmedinsCode (§2.6-§2.8): the envelope field that names the sender."""
    return "infCode" if "infCode" in schema["properties"] else "fixmedinsCode"


@dataclass
class Envelope:
    infno: str
    msgid: str
    inf_time: str
    institution_code: str
    key: str | None  # optional only on the queries (§2.6-§2.8, ERRATA E-QUERY-KEY)
    input: Any
    body_sha256: str
    notes: list[str] = field(default_factory=list)


def body_digest(body: Any) -> str:
    """Digest of the message's content (key order and whitespace do not matter)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_envelope(contract: Contract, schema: dict[str, Any], body: Any) -> Outcome:
    """Validate an envelope against its schema (one of `contract`'s, which it outlives); raise the refusal the
    catalogue gives for what broke."""
    outcome = contract.memo(f"envelope:{id(schema)}", lambda: contract.validator_of(schema)).validate(body)
    if outcome.errors:
        infno_only = all(error.code == "infno" and error.rule == "enum" for error in outcome.errors)
        code = ResponseCode.infno_mismatch if infno_only else ResponseCode.envelope_invalid
        raise MieError(code, errors=outcome.errors)
    return outcome


def read_envelope(contract: Contract, transaction: Transaction, body: Any, checked: Outcome | None = None) -> Envelope:
    """The envelope of `body`, validated here unless `checked` is the outcome of `check_envelope` on this very
    body against this transaction's schema (the HTTP layer's, handed on so it is not done twice)."""
    schema = transaction.body_schema
    outcome = checked if checked is not None else check_envelope(contract, schema, body)
    value = outcome.value
    return Envelope(
        infno=value["infno"],
        msgid=value["msgid"],
        inf_time=value["infTime"],
        institution_code=value[institution_field(schema)],
        key=value.get("key"),
        input=value["input"],
        body_sha256=body_digest(body),
        notes=outcome.notes,
    )


def replayed_answer(repository: Repository, institution_code: str, envelope: Envelope) -> Answer | None:
    """The first answer to this msgid when the same message comes again; a different one is refused."""
    message = repository.message(institution_code, envelope.msgid)
    if message is None:
        return None
    if message.body_sha256 != envelope.body_sha256 or message.infno != envelope.infno:
        raise MieError(ResponseCode.msgid_conflict, f"msgid {envelope.msgid} 已于 {message.received_at:%Y-%m-%d %H:%M:%S} 使用")
    return Answer(http_status=message.http_status, body=message.answer)


def remember_answer(repository: Repository, institution_code: str, envelope: Envelope, answer: Answer) -> None:
    repository.add_message(
        institution_code, envelope.msgid, envelope.infno, envelope.body_sha256, answer.http_status, answer.body
    )
