"""§2.2 saveImgFile and §2.3 saveImgInfo (images: issue 3)."""

from __future__ import annotations

from typing import Any

from handlers.common import not_implemented


def save_img_file(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
    return not_implemented("saveImgFile")


def save_img_info(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
    return not_implemented("saveImgInfo")
