"""Rules of a record that span several fields: the hiImgIndx of a §2.1 record against the record (§1.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mie.contract.index import IndexError_
from mie.contract.spec import Contract
from mie.contract.validation import FieldError, Outcome


def index_field_error(contract: Contract, detail: str, rule: str = "index") -> FieldError:
    """A finding on the hiImgIndx field of a §2.1 record."""
    schema = contract.component("ExamRpotImgInfo")["properties"]["hiImgIndx"]
    return FieldError("hiImgIndx", "hiImgIndx", schema["title"], f"#{schema['x-seq']}", rule, detail)


def _day(moment: datetime) -> str:
    """strftime("%Y-%m-%d"), which the C library does not zero-pad before year 1000; isoformat (several times
    faster) for the years it writes alike."""
    return moment.date().isoformat() if moment.year >= 1000 else moment.strftime("%Y-%m-%d")


def check_exam_record(contract: Contract, record: Any) -> Outcome:
    """Validate one §2.1 record: every field by the spec, then the index against the record (§1.2)."""
    outcome = contract.validator("ExamRpotImgInfo").validate(record)
    value = outcome.value
    if not isinstance(value, dict) or any(error.code == "hiImgIndx" for error in outcome.errors):
        return outcome
    index_text = value.get("hiImgIndx")
    if not isinstance(index_text, str):
        return outcome
    try:
        parts = contract.index.parse(index_text)
    except IndexError_ as error:
        outcome.errors.insert(0, index_field_error(contract, str(error)))
        return outcome
    cert_type, certno = value.get("psnCertType"), value.get("certno")
    if isinstance(cert_type, str) and parts.psn_cert_type != cert_type:
        detail = f"第1部分证件类型 '{parts.psn_cert_type}' 与 psnCertType '{cert_type}' 不一致"
        outcome.errors.insert(0, index_field_error(contract, detail))
    if isinstance(certno, str) and parts.certno != certno.upper():
        outcome.errors.insert(0, index_field_error(contract, "第2部分证件号码与 certno 不一致"))
    exam_date = value.get("examDate")
    if isinstance(exam_date, str) and _day(parts.exam_time) != exam_date:
        outcome.notes.append(f"索引第3部分的检查日期 {parts.exam_time:%Y-%m-%d} 与 examDate {exam_date} 不一致")
    return outcome
