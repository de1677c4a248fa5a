"""§2.1 saveExamRpotImgInfo and §2.5 deleteExamRpotImgIdxInfo."""

from __future__ import annotations

from typing import Any

from handlers.common import reply
from mie import runtime
from mie.service import exams


def save_exam_rpot_img_info(body: Any) -> tuple[dict[str, Any], int]:
    return reply(exams.save_exam_records(runtime.current().database, body))


def delete_exam_rpot_img_idx_info(body: Any) -> tuple[dict[str, Any], int]:
    current = runtime.current()
    return reply(exams.delete_exam_records(current.database, current.store, body))


# The table's spelling of the transaction (ERRATA E-DELETE-NAME) is the same transaction.
delete_exam_rpot_img_indx_info = delete_exam_rpot_img_idx_info
