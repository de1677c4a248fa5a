"""§2.2 saveImgFile and §2.3 saveImgInfo."""

from __future__ import annotations

from typing import Any

from connexion import request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from handlers.common import form_fields, reply
from mie import runtime
from mie.service import images


async def save_img_file(body: Any = None, dicom: UploadFile | None = None, **_: Any) -> tuple[dict[str, Any], int]:
    current = runtime.current()
    answer = await run_in_threadpool(
        images.save_img_file,
        current.database,
        current.store,
        dict(request.headers),
        form_fields(body),
        dicom.file if isinstance(dicom, UploadFile) else None,
        current.settings.max_file_bytes,
    )
    return reply(answer)


def save_img_info(body: Any) -> tuple[dict[str, Any], int]:
    return reply(images.save_img_info(runtime.current().database, body))
