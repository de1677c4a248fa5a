"""Every rule of every field of every transaction's input, from the spec: the validator names the field.

The cases come from tests/spec_cases.py, which reads them off the schemas; a field added to the spec
is tested here without a line of test code.
"""

from __future__ import annotations

from typing import Any

import pytest

from mie.contract import current
from tests.spec_cases import RECORD_SCHEMAS, Breakage, breakages

CONTRACT = current()

INPUT_SCHEMAS = RECORD_SCHEMAS

CASES = [(name, case) for name in INPUT_SCHEMAS for case in breakages(name)]


def example_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema's example; a multipart form's file parts, which an example cannot hold, stand in as text."""
    files = {code: "<file>" for code, field in schema["properties"].items() if field.get("format") == "binary"}
    return {**schema["example"], **files}


@pytest.mark.parametrize("schema_name", INPUT_SCHEMAS)
def test_the_schema_example_is_valid(schema_name: str) -> None:
    schema = CONTRACT.component(schema_name)
    outcome = CONTRACT.validator_of(schema).validate(example_of(schema))
    assert outcome.errors == []


@pytest.mark.parametrize("schema_name", INPUT_SCHEMAS)
def test_every_field_has_its_spec_terms(schema_name: str) -> None:
    for code, field in CONTRACT.component(schema_name)["properties"].items():
        assert field.get("title"), f"{schema_name}.{code} has no Chinese name"
        assert "x-seq" in field, f"{schema_name}.{code} has no 序号"


def test_cases_cover_every_kind_of_rule() -> None:
    rules = {case.rule for _, case in CASES}
    assert {"required", "maxLength", "dictionary", "format", "decimal"} <= rules
    # §2.1 alone: every required field, every length, every dictionary field, every date
    exam = CONTRACT.component("ExamRpotImgInfo")
    required_cases = {
        case.code for name, case in CASES if name == "ExamRpotImgInfo" and case.rule == "required" and len(case.path) == 1
    }
    assert required_cases == set(exam["required"])


@pytest.mark.parametrize(("schema_name", "case"), CASES, ids=[f"{n}:{c.label}" for n, c in CASES])
def test_a_broken_field_is_named_with_its_rule(schema_name: str, case: Breakage) -> None:
    schema = CONTRACT.component(schema_name)
    outcome = CONTRACT.validator_of(schema).validate(case.apply(example_of(schema)))
    matching = [error for error in outcome.errors if error.rule == case.rule and str(error).startswith(case.error_prefix)]
    assert matching, f"expected a {case.rule} error on {case.error_prefix}, got {[str(e) for e in outcome.errors]}"
