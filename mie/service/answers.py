"""Answers in the spec's envelope, and the errors that become them.

The error-code catalogue (code, name, HTTP status) is `components/schemas/ResponseCode` of the spec;
`generated.models.ResponseCode` is its enum. Like the generated models, it is the processor's own contract's
(`mie.contract.current()`): a refusal can be raised anywhere, and one process answers in one catalogue.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from generated.models import ResponseCode
from mie.contract import current
from mie.contract.validation import FieldError

log = logging.getLogger("mie")


@dataclass(frozen=True)
class CatalogueEntry:
    code: int
    name: str
    http_status: int
    description: str


@functools.cache
def catalogue() -> dict[int, CatalogueEntry]:
    schema = current().component("ResponseCode")
    return {
        code: CatalogueEntry(code, name, status, description)
        for code, name, status, description in zip(
            schema["enum"],
            schema["x-enum-names"],
            schema["x-http-status"],
            schema["x-enum-descriptions"],
            strict=True,
        )
    }


def entry(code: ResponseCode) -> CatalogueEntry:
    return catalogue()[code.value]


@dataclass
class Answer:
    """What a transaction answers: an HTTP status and the envelope body."""

    http_status: int
    body: dict[str, Any]


def storage_unavailable(error: OSError) -> MieError:
    """The refusal of a message the storage area could not serve now (nothing was written; the same message may be
    sent again): logged here, answered in the envelope with `unavailable` (HTTP 503)."""
    log.error("storage unavailable: %s", error)
    return MieError(ResponseCode.unavailable, "影像/报告存储暂不可用, 请稍后重试")


class MieError(Exception):
    """A refusal of the whole message; nothing was written."""

    def __init__(self, code: ResponseCode, detail: str | None = None, errors: Sequence[FieldError] = ()) -> None:
        self.code = code
        self.errors = list(errors)
        parts = [entry(code).name]
        if detail:
            parts.append(detail)
        if self.errors:
            parts.append("; ".join(str(error) for error in self.errors))
        self.message = ": ".join(parts[:2]) + (f": {parts[2]}" if len(parts) > 2 else "")
        super().__init__(self.message)

    def answer(self) -> Answer:
        return Answer(
            http_status=entry(self.code).http_status,
            body={
                "code": self.code.value,
                "type": "error",
                "message": self.message,
                "data": [error.as_dict() for error in self.errors] or None,
            },
        )


@functools.cache
def _index_max_length() -> int | None:
    return current().component("RecordResult")["properties"]["hiImgIndx"].get("maxLength")


def fitting_index(index: str | None) -> str | None:
    """The index as sent, to echo in an answer, or None when it is not one the answer's schema can carry
    (longer than its maxLength: the message names the broken field anyway)."""
    limit = _index_max_length()
    if not isinstance(index, str) or (limit is not None and len(index) > limit):
        return None
    return index


@dataclass
class RecordResult:
    """One record's answer (§2.1 output): succFlag 1 saved, -1 refused."""

    hi_img_indx: str | None
    saved: bool
    message: str
    errors: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "hiImgIndx": fitting_index(self.hi_img_indx),
            "succFlag": "1" if self.saved else "-1",
            "message": self.message,
        }
        if self.errors:
            result["errors"] = [error.as_dict() for error in self.errors]
        return result


def record_results_answer(results: Sequence[RecordResult]) -> Answer:
    refused = sum(1 for result in results if not result.saved)
    if refused == 0:
        code = ResponseCode.success
        message = entry(code).name
    else:
        code = ResponseCode.all_records_refused if refused == len(results) else ResponseCode.some_records_refused
        message = f"{entry(code).name}: {refused}/{len(results)} 条被拒绝, 原因见 data"
    return Answer(
        http_status=entry(code).http_status,
        body={
            "code": code.value,
            "type": "success" if code is ResponseCode.success else "error",
            "message": message,
            "data": [result.as_dict() for result in results],
        },
    )
