"""Test cases derived from the spec: for every field of a schema, the ways it can be broken.

Nothing here lists fields by hand: the schema says which fields are required, how long each may be,
which dictionary it takes and which date format, and each case breaks exactly one of those rules.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mie.contract import current
from mie.contract.dictionaries import allowed_codes
from mie.contract.validation import merge_all_of

CONTRACT = current()


@dataclass(frozen=True)
class Breakage:
    """One field broken one way, and what the validator must say about it."""

    path: tuple[str | int, ...]  # where the field sits in the record, e.g. ("setlInfoList", 0, "examPart")
    code: str
    title: str
    seq: str
    rule: str
    value: Any  # the value to put there; MISSING removes the field

    @property
    def label(self) -> str:
        return f"{'.'.join(map(str, self.path))}:{self.rule}"

    @property
    def error_prefix(self) -> str:
        """How the error message names the field: code(中文名称,序号)."""
        dotted = ""
        for part in self.path:
            dotted += f"[{part}]" if isinstance(part, int) else (f".{part}" if dotted else part)
        return f"{dotted}({self.title},{self.seq})"

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        broken = copy.deepcopy(record)
        target: Any = broken
        for part in self.path[:-1]:
            target = target[part]
        if self.value is MISSING:
            target.pop(self.path[-1], None)
        else:
            target[self.path[-1]] = self.value
        return broken


MISSING = object()


# The record and form tables each transaction validates one by one (the spec-derived tests break their fields).
RECORD_SCHEMAS = [
    "ExamRpotImgInfo",
    "ImgInfo",
    "DeleteExamRpotImgIdxItem",
    "QueryExamRpotImgIndxListInput",
    "QueryImgCaheFileSnInput",
    "QueryImgCaheInput",
    "SaveImgFileForm",
    "SaveRptFileForm",
]


def _not_a_code(schema: dict[str, Any]) -> str:
    codes = set(allowed_codes(schema, CONTRACT.dictionaries))
    length = min(schema.get("maxLength", 3), 3)
    for letter in "QXYZ":
        candidate = letter * length
        if candidate not in codes:
            return candidate
    raise AssertionError("no value outside the dictionary")


def breakages(schema_name: str) -> Iterator[Breakage]:
    """Every single-rule breakage of every field of a component schema, nested lists included."""
    yield from _breakages(CONTRACT.component(schema_name), ())


def _breakages(schema: dict[str, Any], prefix: tuple[str | int, ...], node: str | None = None) -> Iterator[Breakage]:
    required = set(schema.get("required") or ())
    for code, raw in schema["properties"].items():
        field = dict(merge_all_of(raw))
        seq = f"{node}#{field['x-seq']}" if node else f"#{field['x-seq']}"
        where = (*prefix, code)

        def make(
            rule: str,
            value: Any,
            where: tuple[str | int, ...] = where,
            field: dict[str, Any] = field,
            seq: str = seq,
            code: str = code,
        ) -> Breakage:
            return Breakage(where, code, field.get("title", code), seq, rule, value)

        if code in required:
            yield make("required", MISSING)
        if field.get("type") == "array" and isinstance(field.get("items"), dict) and "properties" in field["items"]:
            items = field["items"]
            yield from _breakages(items, (*where, 0), items.get("x-node"))
            continue
        if field.get("type") == "object" and "properties" in field:
            yield from _breakages(field, where, field.get("x-node"))
            continue
        if field.get("format") == "binary":
            continue
        if "maxLength" in field:
            yield make("maxLength", "A" * (field["maxLength"] + 1))
        if "x-dictionary" in field:
            yield make("dictionary", _not_a_code(field))
        elif "enum" in field and field.get("type") == "string":
            yield make("enum", "不在枚举中")
        if "x-format" in field:
            yield make("format", "2023/04/02")
            yield make("format", "2023-02-30" if field["x-format"] == "yyyy-MM-dd" else "2023-02-30 10:00:00")
        if "x-decimal" in field:
            scale = field["x-decimal"].get("scale", 0)
            yield make("decimal", "1." + "1" * (scale + 1) if scale else "1.5")
            yield make("decimal", "9" * (field["x-decimal"]["precision"] + 1))
