"""`mie validate`: check a request payload offline exactly as the processor would, in the spec's terms."""

from __future__ import annotations

import json
from typing import Any

from mie.contract.spec import Transaction, transactions
from mie.contract.validation import FieldError, Validator
from mie.service.answers import MieError
from mie.service.envelope import check_envelope
from mie.service.exams import check_exam_record


def _transaction_for(infno: str | None) -> Transaction | None:
    for candidate in transactions():
        if infno == candidate.infno or infno in candidate.body_schema["properties"]["infno"].get("enum", []):
            return candidate
    return None


def _problem(where: str, error: FieldError) -> dict[str, Any]:
    return {"where": where, **error.as_dict()}


def _check_records(transaction: Transaction, records: Any) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    if transaction.infno == "saveExamRpotImgInfo":
        for position, record in enumerate(records):
            problems += [_problem(f"input[{position}]", e) for e in check_exam_record(record).errors]
        return problems
    items = transaction.body_schema["properties"]["input"].get("items")
    if isinstance(records, list) and isinstance(items, dict) and "properties" in items:
        validator = Validator(items)
        for position, record in enumerate(records):
            problems += [_problem(f"input[{position}]", e) for e in validator.validate(record).errors]
    return problems


def validate_payload(text: str, infno: str | None = None) -> dict[str, Any]:
    """A report: {valid, transaction, summary, problems[{where, path, code, title, seq, rule, message}]}."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"不是有效的 JSON: 第 {error.lineno} 行第 {error.colno} 列: {error.msg}"
        return {"valid": False, "transaction": None, "summary": message, "problems": [{"where": "$", "message": message}]}
    if infno is None and isinstance(body, dict):
        infno = body.get("infno") or body.get("info")
    transaction = _transaction_for(infno)
    if transaction is None:
        message = f"未知的交易编号 {infno!r}; 用 --transaction 指定"
        return {"valid": False, "transaction": infno, "summary": message, "problems": [{"where": "infno", "message": message}]}
    problems: list[dict[str, Any]] = []
    try:
        value = check_envelope(transaction.body_schema, body).value
    except MieError as error:
        problems = [_problem("envelope", e) for e in error.errors] or [{"where": "envelope", "message": error.message}]
    else:
        problems = _check_records(transaction, value["input"])
    summary = (
        f"{transaction.infno} (§{transaction.section}): 符合规范"
        if not problems
        else f"{transaction.infno} (§{transaction.section}): {len(problems)} 处不符合规范"
    )
    return {"valid": not problems, "transaction": transaction.infno, "summary": summary, "problems": problems}
