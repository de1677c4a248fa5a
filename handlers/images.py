"""§2.2 saveImgFile and §2.3 saveImgInfo."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile

from handlers.common import reply, upload_reply
from mie import runtime
from mie.service import images


async def save_img_file(body: Any = None, dicom: UploadFile | None = None, **_: Any) -> tuple[dict[str, Any], int]:
    return await upload_reply(images.save_img_file, body, dicom)


def save_img_info(body: Any) -> tuple[dict[str, Any], int]:
    return reply(images.save_img_info(runtime.current().contract, runtime.current().database, body))
