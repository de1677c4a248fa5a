"""The fast path of validation (mie/contract/fastpath.py) against the detailed checks it stands in for.

The fast path may answer only for a value the detailed checks find nothing wrong with, and then must give
the same Outcome (value, notes); anything else it must hand over. Each case here is run both ways: the
document's examples, every single-rule breakage the spec allows (tests/spec_cases.py), and more mutations of
each field (absent, null, empty, of another type, too long, outside its dictionary, against its pattern or
format), so that a fast path that let through anything the detailed checks refuse fails here.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from mie.contract import current, index
from mie.contract.dictionaries import allowed_codes
from mie.contract.index import IndexRule
from mie.contract.records import check_exam_record
from mie.contract.validation import Outcome, Validator, merge_all_of
from mie.toolkit import validate as toolkit
from tests.spec_cases import MISSING, breakages
from tests.test_validate import request_examples

CONTRACT = current()

RECORD_SCHEMAS = ["ExamRpotImgInfo", "ImgInfo", "DeleteExamRpotImgIdxItem", "QueryExamRpotImgIndxListInput", "QueryImgCaheInput"]


def agree(validator: Validator, value: Any) -> Outcome:
    """Run a value both ways; the fast path answers only for a clean value, and then as the detailed checks."""
    detailed = validator.validate_detailed(copy.deepcopy(value))
    fast = validator._fast(copy.deepcopy(value), "")
    if fast is not None:
        assert not detailed.errors and not detailed.advisories, f"fast path accepted {detailed.errors or detailed.advisories}"
        assert fast.notes == detailed.notes
        assert fast.value == detailed.value
        assert json.dumps(fast.value, default=str) == json.dumps(detailed.value, default=str)  # the same order too
        assert not fast.errors and not fast.advisories
    combined = validator.validate(copy.deepcopy(value))
    assert (combined.errors, combined.advisories, combined.notes) == (detailed.errors, detailed.advisories, detailed.notes)
    assert combined.value == detailed.value
    return detailed


def field_mutations(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Values to put in a field of this schema: every shape the detailed checks may have something to say about."""
    yield "absent", MISSING
    yield "null", None
    yield "empty", ""
    yield "number", 12
    yield "float", 1.5
    yield "bool", True
    yield "list", ["1"]
    yield "object", {"a": "1"}
    yield "spaces", "  "
    yield "newline", "1\n"
    if "maxLength" in schema:
        yield "too long", "1" * (schema["maxLength"] + 1)
        yield "longest", "1" * schema["maxLength"]
    if (schema.get("minLength") or 0) > 1:
        yield "too short", "1" * (schema["minLength"] - 1)
    if "x-dictionary" in schema:
        codes = [code for code in allowed_codes(schema, CONTRACT.dictionaries) if code]
        yield "not a code", "QZQ"
        yield "relaxed shape", "B99999999"
        yield "three digits", "999"
        yield "a code", codes[0]
        yield "a code in lower case", codes[-1].lower()
        if schema.get("x-separator"):
            separator = schema["x-separator"][0]
            yield "two codes", f"{codes[0]}{separator}{codes[-1]}"
            yield "a code and a stranger", f"{codes[0]}{separator}QZQ"
            yield "doubled separator", f"{codes[0]}{separator}{separator}{codes[-1]}"
    if "enum" in schema:
        yield "outside the enum", "不在枚举中"
    if "x-format" in schema:
        yield "slashes", "2023/04/02"
        yield "no such day", "2023-02-30" if schema["x-format"] == "yyyy-MM-dd" else "2023-02-30 10:00:00"
        yield "leap day", "2024-02-29" if schema["x-format"] == "yyyy-MM-dd" else "2024-02-29 23:59:59"
        yield "with T", "2023-04-02T10:00:00"
    if "pattern" in schema and "x-dictionary" not in schema:
        yield "pattern broken", "!" + str(schema.get("example", "x"))
    if "x-decimal" in schema:
        yield "decimal text", "12.5"
        yield "decimal too fine", "1.123"
        yield "decimal float", 35.0
        yield "decimal big float", 1e20
        yield "decimal negative", -1
        yield "decimal Decimal", Decimal("1.5")
        yield "decimal unicode digits", "١٢"
    if schema.get("x-advise"):
        yield "advised", "a,b"


def mutations(schema: dict[str, Any], record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The record with one field (nested ones too) replaced by each mutation, and with fields added."""
    for code, raw in schema["properties"].items():
        field = merge_all_of(raw)
        for label, value in field_mutations(field):
            changed = copy.deepcopy(record)
            if value is MISSING:
                changed.pop(code, None)
            else:
                changed[code] = value
            yield f"{code}:{label}", changed
        for alias in field.get("x-aliases", ()):
            if code in record:
                aliased = copy.deepcopy(record)
                aliased[alias] = aliased.pop(code)
                yield f"{code}:alias {alias}", aliased
        items = field.get("items")
        if field.get("type") == "array" and isinstance(items, dict) and "properties" in items and record.get(code):
            for label, item in mutations(items, record[code][0]):
                changed = copy.deepcopy(record)
                changed[code] = [item, *changed[code][1:]]
                yield f"{code}[0].{label}", changed
            yield f"{code}:no item", {**record, code: []}
            yield f"{code}:item not an object", {**record, code: ["x"]}
            yield f"{code}:item with a field of its own", {**record, code: [{**record[code][0], "extra": 1}]}
    yield "unknown fields", {**record, "zzz": 1, "aaa": None}
    yield "unknown fields, other order", {"aaa": 1, **record, "zzz": 2}
    yield "not an object", ["x"]  # type: ignore[misc]


def schema_example(name: str) -> dict[str, Any]:
    schema = CONTRACT.component(name)
    files = {code: "<file>" for code, field in schema["properties"].items() if field.get("format") == "binary"}
    return {**copy.deepcopy(schema["example"]), **files}


@pytest.mark.parametrize("name", RECORD_SCHEMAS)
def test_every_mutation_of_every_field_gets_the_same_outcome(name: str) -> None:
    validator = CONTRACT.validator_of(CONTRACT.component(name))
    record = schema_example(name)
    assert validator._fast(copy.deepcopy(record), "") is not None, "the fast path should take the spec's own example"
    refused = 0
    for label, changed in mutations(CONTRACT.component(name), record):
        try:
            detailed = agree(validator, changed)
        except AssertionError as error:
            raise AssertionError(f"{name} {label}: {error}") from None
        refused += bool(detailed.errors or detailed.advisories)
    # the mutations do break rules (the fast path is tested only where there is something to miss)
    assert refused >= 2 * len(CONTRACT.component(name)["properties"])


@pytest.mark.parametrize("name", RECORD_SCHEMAS)
def test_every_breakage_of_the_spec_cases_is_still_named(name: str) -> None:
    validator = CONTRACT.validator_of(CONTRACT.component(name))
    record = schema_example(name)
    for case in breakages(name):
        outcome = agree(validator, case.apply(record))
        assert any(error.rule == case.rule for error in outcome.errors + outcome.advisories), case.label
        assert validator._fast(case.apply(record), "") is None, case.label


def test_the_request_bodies_of_every_transaction() -> None:
    bodies = {t.path: t.body_schema for t in CONTRACT.transactions}
    for path, example in request_examples():
        if path not in bodies or "headers" in example:
            continue
        validator = CONTRACT.validator_of(bodies[path])
        agree(validator, example)
        agree(validator, {**example, "extra": 1})
        agree(validator, {key: value for key, value in example.items() if key != "msgid"})
        agree(validator, {**example, "msgid": "H1101020232120250301010203"})  # the relaxed pattern: a warning
        agree(validator, {**example, "input": []})


def test_random_records_of_a_batch() -> None:
    """Records as a sender's batch varies them: mostly clean, the fast path takes them; each the same outcome."""
    validator = CONTRACT.validator_of(CONTRACT.component("ExamRpotImgInfo"))
    record = schema_example("ExamRpotImgInfo")
    mutated = list(mutations(CONTRACT.component("ExamRpotImgInfo"), record))
    rng = random.Random(7)
    taken = 0
    for _ in range(300):
        changed = copy.deepcopy(record)
        for _, other in rng.sample(mutated, 3):
            if isinstance(other, dict):
                key = rng.choice(list(other))
                changed[key] = copy.deepcopy(other[key])
        agree(validator, changed)
        taken += validator._fast(changed, "") is not None
    assert taken > 0


def test_the_exam_record_check_keeps_its_findings() -> None:
    record = schema_example("ExamRpotImgInfo")
    clean = check_exam_record(CONTRACT, copy.deepcopy(record))
    assert not clean.errors
    broken = {**copy.deepcopy(record), "gend": "7", "examDate": "2023/04/02"}
    broken.pop("psnName")
    outcome = check_exam_record(CONTRACT, broken)
    assert sorted(error.rule for error in outcome.errors) == ["dictionary", "format", "required"]
    other = {**copy.deepcopy(record), "certno": "110101197804050039"}
    assert [error.detail for error in check_exam_record(CONTRACT, other).errors] == ["第2部分证件号码与 certno 不一致"]


def test_the_index_time_is_read_as_strptime_reads_it() -> None:
    """index.parse reads part 3 by slices instead of strptime("%Y%m%d%H%M%S"): the same days and refusals."""
    rng = random.Random(3)
    samples = ["20240229120000", "20230229120000", "20241301000000", "20241232000000", "20240101240000",
               "20240101236000", "20240101235960", "00000101000000", "99991231235959", "20240431000000"]  # fmt: skip
    samples += ["".join(rng.choice("0123456789") for _ in range(14)) for _ in range(3000)]
    for _ in range(3000):  # near the edges of each field
        day = f"{rng.randrange(1900, 2100)}{rng.randrange(0, 14):02d}{rng.randrange(0, 33):02d}"
        samples.append(day + f"{rng.randrange(0, 25):02d}{rng.randrange(0, 61):02d}{rng.randrange(0, 62):02d}")
    for text in samples:
        try:
            expected: datetime | None = datetime.strptime(text, "%Y%m%d%H%M%S")
        except ValueError:
            expected = None
        try:
            got: datetime | None = CONTRACT.index.parse(f"111-110101197804050038-{text}-0-0").exam_time
        except index.IndexError_:
            got = None
        assert got == expected, text


def test_the_c_yaml_loader_reads_the_spec_as_the_python_one() -> None:
    spec = CONTRACT.location.parent
    for path in [spec / "openapi.yaml", *sorted((spec / "dictionaries").glob("*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        assert yaml.load(text, Loader=yaml.SafeLoader) == yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert CONTRACT.document and CONTRACT.resolved


JSON_DOCUMENTS = [
    b'{"a": 1, "b": [1.5, -0, 2e3, "x"], "a": 2}',
    b'\xef\xbb\xbf{"infno": "saveExamRpotImgInfo"}',
    b'{"n": 12345678901234567890}',
    b'{"n": [-12345678901234567890]}',
    b'{"n": 1234567890123456789}',
    b'{"s": "12345678901234567890123", "t": "a:12345678901234567890"}',
    b'{"n": NaN}',
    b'{"n": 1e400}',
    b'{"s": "\\ud800"}',
    b'{"s": "\xff"}',
    b'{"s": "\xed\xa0\x80"}',
    b'{"a": 1,}',
    b"",
    b"[" * 2000 + b"]" * 2000,
    '{"名": "李丽", "s": "\\u00e9"}'.encode(),
]


@pytest.mark.parametrize("raw", JSON_DOCUMENTS, ids=range(len(JSON_DOCUMENTS)))
def test_files_are_parsed_as_json_parses_them(raw: bytes, tmp_path: Path) -> None:
    parsed = toolkit._parse_fast(raw)
    try:
        expected = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        assert parsed is toolkit._UNPARSED
    else:
        if parsed is not toolkit._UNPARSED:
            assert parsed == expected and json.dumps(parsed) == json.dumps(expected)
            assert type(parsed) is type(expected)
    path = tmp_path / "body.json"
    path.write_bytes(raw)
    try:
        text_report = toolkit.validate_text(raw.decode("utf-8-sig"), None, str(path), tmp_path)
    except UnicodeDecodeError:
        text_report = None
    except RecursionError:
        return
    file_report = toolkit.validate_file(path)
    if text_report is not None:
        assert file_report.as_dict() == text_report.as_dict()
    else:
        assert "UTF-8" in file_report.findings[0].message


def test_big_integers_go_to_json() -> None:
    assert toolkit._parse_fast(b'{"n": 12345678901234567890}') is toolkit._UNPARSED
    assert toolkit._parse_fast(b'{"n": [1, -12345678901234567890]}') is toolkit._UNPARSED
    assert toolkit._parse_fast(b'{"s": "x12345678901234567890"}') == {"s": "x12345678901234567890"}


def test_the_index_parts_in_one_pattern_decide_as_the_parts_one_by_one() -> None:
    """index.parse checks a plain index with one pattern of all its parts, else part by part: the same answers."""
    assert CONTRACT.index.whole_pattern is not None  # the spec's parts are plain: the one pattern is in use
    example = CONTRACT.component("HiImgIndx")["example"]
    rng = random.Random(11)
    samples = [example, example.rsplit("-", 1)[0], example + "-1", example.replace("-", "--", 1), "-" + example, "", "-"]
    alphabet = "0123456789AZaz-- .\n١"
    for _ in range(4000):
        chars = list(example)
        for _ in range(rng.randrange(1, 4)):
            position = rng.randrange(len(chars) + 1)
            action = rng.randrange(3)
            if action == 0 and chars:
                del chars[min(position, len(chars) - 1)]
            elif action == 1:
                chars.insert(position, rng.choice(alphabet))
            elif chars:
                chars[min(position, len(chars) - 1)] = rng.choice(alphabet)
        samples.append("".join(chars))

    def outcomes(rule: IndexRule) -> list[Any]:
        found: list[Any] = []
        for sample in samples:
            try:
                found.append(rule.parse(sample))
            except index.IndexError_ as error:
                found.append(str(error))
        return found

    one_pattern = outcomes(IndexRule(CONTRACT.component("HiImgIndx")))
    part_by_part = IndexRule(CONTRACT.component("HiImgIndx"))
    part_by_part.whole_pattern = None
    assert outcomes(part_by_part) == one_pattern
    assert sum(isinstance(outcome, index.HiImgIndx) for outcome in one_pattern) > 100
