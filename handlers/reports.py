"""§2.4 saveRptFile (reports: issue 3)."""

from __future__ import annotations

from typing import Any

from handlers.common import not_implemented


def save_rpt_file(*_args: Any, **_kwargs: Any) -> tuple[dict[str, Any], int]:
    return not_implemented("saveRptFile")
