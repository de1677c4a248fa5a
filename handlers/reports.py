"""§2.4 saveRptFile."""

from __future__ import annotations

from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from handlers.common import form_fields, reply
from mie import runtime
from mie.service import reports


async def save_rpt_file(body: Any = None, examRpotPdf1: UploadFile | None = None, **_: Any) -> tuple[dict[str, Any], int]:  # noqa: N803 - the spec's name
    current = runtime.current()
    answer = await run_in_threadpool(
        reports.save_rpt_file,
        current.database,
        current.store,
        dict(request.headers),
        form_fields(body),
        examRpotPdf1.file if isinstance(examRpotPdf1, UploadFile) else None,
        current.settings.max_file_bytes,
    )
    return reply(answer)
