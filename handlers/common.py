"""What every handler does with a service's answer."""

from __future__ import annotations

from typing import Any

from generated.models import ResponseCode
from mie.service.answers import Answer, MieError


def reply(answer: Answer) -> tuple[dict[str, Any], int]:
    return answer.body, answer.http_status


def not_implemented(transaction: str) -> tuple[dict[str, Any], int]:
    return reply(MieError(ResponseCode.not_implemented, f"{transaction} 将在后续版本实现").answer())


def form_fields(body: Any) -> dict[str, Any]:
    """The text fields of a parsed multipart form (a field sent twice keeps its first value)."""
    if not isinstance(body, dict):
        return {}
    fields: dict[str, Any] = {}
    for name, value in body.items():
        first = value[0] if isinstance(value, list) and value else value
        if isinstance(first, str):
            fields[name] = first
    return fields
