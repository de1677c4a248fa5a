"""§2.4 saveRptFile."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from handlers.common import upload_reply
from mie.service import reports


async def save_rpt_file(body: Any = None, examRpotPdf1: UploadFile | None = None, **_: Any) -> tuple[dict[str, Any], int]:  # noqa: N803 - the spec's name
    return await upload_reply(reports.save_rpt_file, body, examRpotPdf1)
