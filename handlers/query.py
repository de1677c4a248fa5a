"""§2.6 queryExamRpotImgIndxListFHospital, §2.7/§2.8 queryImgCaheFIndex (queries: a later issue)."""

from __future__ import annotations

from typing import Any

from handlers.common import not_implemented


def query_exam_rpot_img_indx_list_f_hospital(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
    return not_implemented("queryExamRpotImgIndxListFHospital")


def query_img_cahe_f_index(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
    return not_implemented("queryImgCaheFIndex")
