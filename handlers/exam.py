"""§2.1 saveExamRpotImgInfo and §2.5 deleteExamRpotImgIdxInfo."""

from __future__ import annotations

from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool

from handlers.common import reply
from mie import runtime
from mie.service import exams
from mie.web.validators import checked_body, declared_charset, decode_body, parse_json


async def save_exam_rpot_img_info() -> tuple[dict[str, Any], int]:
    # The body as the request validator parsed and checked it (no second parse, no second envelope check),
    # and the whole transaction in one hop to a worker thread.
    checked = checked_body(request.scope)
    if checked is None:  # not reached through the JSON validator: parse strictly and validate here
        body, outcome = await _parsed_body(), None
    else:
        body, outcome = checked.body, checked.outcome
    current = runtime.current()
    return reply(await run_in_threadpool(exams.save_exam_records, current.contract, current.database, body, outcome))


async def _parsed_body() -> Any:
    text, _ = decode_body(await request.body(), declared_charset(request.headers.get("content-type", "")))
    return parse_json(text)


def delete_exam_rpot_img_idx_info(body: Any) -> tuple[dict[str, Any], int]:
    current = runtime.current()
    return reply(exams.delete_exam_records(current.contract, current.database, current.store, body))


# The table's spelling of the transaction (ERRATA E-DELETE-NAME) is the same transaction.
delete_exam_rpot_img_indx_info = delete_exam_rpot_img_idx_info
