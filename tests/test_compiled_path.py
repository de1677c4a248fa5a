"""The compiled half of the fast path (jsonschema-rs, mie/contract/fastpath.py) changes no outcome.

Each case is judged twice, by a contract whose validators check a compiled schema first and by one whose validators
were built without it (the generated Python alone, as before the compiled schema existed), and the two must say
the very same: every Outcome (errors, warnings, information, notes, the checked value) and every `mie validate`
report (findings, their order and wording). The cases: the hostile-input catalogue, every single-rule breakage the
spec derives (tests/spec_cases.py), every mutation of every field of the record tables (tests/test_fastpath.py),
random batch records, and the document's own request examples.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from mie.contract import Contract, current, fastpath
from mie.contract.records import check_record
from mie.contract.validation import Outcome
from mie.toolkit import validate as toolkit
from tests.conftest import exam_message
from tests.spec_cases import RECORD_SCHEMAS, breakages
from tests.test_fastpath import mutations, schema_example
from tests.test_hostile_input import JSON_CASES
from tests.test_validate import request_examples

CONTRACT = current()
TOO_BIG = {"body-over-the-limit", "4000-full-records-over-the-body-limit", "100000-records", "nested-100000-arrays"}


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[Contract, Contract]]:
    """(compiled, plain): two fresh contracts of the same spec; the plain one's validators are all built without
    jsonschema-rs (built lazily, so the plain contract is used only inside `plain`)."""
    assert fastpath.jsonschema_rs is not None, "jsonschema-rs is a dependency of mie"
    yield Contract.load(CONTRACT.location), Contract.load(CONTRACT.location)


@contextmanager
def plain() -> Iterator[None]:
    """Validators built in here have no compiled schema (as in a venv without jsonschema-rs)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fastpath, "jsonschema_rs", None)
        yield


def _outcome(outcome: Outcome) -> tuple[Any, ...]:
    return (outcome.errors, outcome.advisories, outcome.notes, json.dumps(outcome.value, default=str, ensure_ascii=False))


def judge_record(both: tuple[Contract, Contract], infno: str, record: Any) -> Outcome:
    compiled, uncompiled = both
    transaction = compiled.transaction(infno)
    fast = check_record(compiled, transaction, copy.deepcopy(record))
    with plain():
        slow = check_record(uncompiled, uncompiled.transaction(infno), copy.deepcopy(record))
    assert _outcome(fast) == _outcome(slow)
    return fast


def judge_schema(both: tuple[Contract, Contract], name: str, value: Any) -> Outcome:
    compiled, uncompiled = both
    fast = compiled.validator(name).validate(copy.deepcopy(value))
    with plain():
        validator = uncompiled.validator(name)
        assert not validator._fast.compiled_schema  # type: ignore[attr-defined]
        slow = validator.validate(copy.deepcopy(value))
    assert _outcome(fast) == _outcome(slow)
    return fast


def judge_file(both: tuple[Contract, Contract], path: Path) -> dict[str, Any]:
    compiled, uncompiled = both
    fast = toolkit.validate_file(path, contract=compiled).as_dict()
    with plain():
        slow = toolkit.validate_file(path, contract=uncompiled).as_dict()
    assert fast == slow
    return fast


def test_the_record_tables_are_checked_by_a_compiled_schema_first() -> None:
    for name in ["ExamRpotImgInfo", "ImgInfo", "QueryExamRpotImgIndxListInput", "QueryImgCaheInput", "SaveImgFileForm"]:
        compiled = CONTRACT.validator(name)._fast.compiled_schema  # type: ignore[attr-defined]
        assert compiled["type"] == "object" and compiled["properties"], name
        jsonschema_rs.Draft7Validator(compiled)  # a schema jsonschema-rs reads
    # an envelope is not: its records are checked one by one, and the compiled schema would read them all first
    assert not CONTRACT.validator_of(CONTRACT.transaction("saveExamRpotImgInfo").body_schema)._fast.compiled_schema  # type: ignore[attr-defined]
    # the rules it takes are the spec's: a field's length, dictionary and date pattern
    exam = CONTRACT.validator("ExamRpotImgInfo")._fast.compiled_schema["properties"]  # type: ignore[attr-defined]
    spec = CONTRACT.component("ExamRpotImgInfo")["properties"]
    assert exam["psnName"]["maxLength"] == spec["psnName"]["maxLength"]
    assert set(exam["gend"]["enum"]) == set(spec["gend"]["enum"])
    assert spec["examDate"]["pattern"] in exam["examDate"]["pattern"]


@pytest.mark.parametrize("case", sorted(set(JSON_CASES) - TOO_BIG))
def test_the_hostile_catalogue(both: tuple[Contract, Contract], tmp_path: Path, case: str) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(JSON_CASES[case].content())
    judge_file(both, path)


def test_the_large_cases_of_the_hostile_catalogue(
    both: tuple[Contract, Contract], tmp_path: Path
) -> None:
    for case in sorted(TOO_BIG):
        path = tmp_path / f"{case}.json"
        path.write_bytes(JSON_CASES[case].content())
        judge_file(both, path)


@pytest.mark.parametrize("name", RECORD_SCHEMAS)
def test_every_breakage_and_mutation_of_every_field(both: tuple[Contract, Contract], name: str) -> None:
    record = schema_example(name)
    cases = [case.apply(record) for case in breakages(name)] + [changed for _, changed in mutations(CONTRACT.component(name), record)]
    refused = 0
    for changed in [record, *cases]:
        outcome = judge_schema(both, name, changed)
        refused += bool(outcome.errors)
    assert refused > len(CONTRACT.component(name)["properties"])  # the cases do break rules


def test_the_exam_records_of_a_batch(both: tuple[Contract, Contract], tmp_path: Path) -> None:
    """§2.1 records with up to three fields broken or changed at once, by the processor's own record check, and as
    files of `mie validate`."""
    record = schema_example("ExamRpotImgInfo")
    mutated = [changed for _, changed in mutations(CONTRACT.component("ExamRpotImgInfo"), record)]
    mutated += [case.apply(record) for case in breakages("ExamRpotImgInfo")]
    rng = random.Random(16)
    records = []
    for _ in range(400):
        changed = copy.deepcopy(record)
        for other in rng.sample(mutated, rng.randrange(0, 4)):
            if isinstance(other, dict) and other:
                key = rng.choice(list(other))
                changed[key] = copy.deepcopy(other[key])
        judge_record(both, "saveExamRpotImgInfo", changed)
        records.append(changed)
    for number in range(0, len(records), 50):
        path = tmp_path / f"batch_{number}.json"
        path.write_text(json.dumps(exam_message(*records[number : number + 50]), ensure_ascii=False), encoding="utf-8")
        judge_file(both, path)


def test_the_documents_request_examples(both: tuple[Contract, Contract], tmp_path: Path) -> None:
    for number, (_, example) in enumerate(request_examples()):
        path = tmp_path / f"example_{number}.json"
        path.write_text(json.dumps(example, ensure_ascii=False), encoding="utf-8")
        judge_file(both, path)
