"""`mie validate`'s fast reader of files (orjson and byte scans, mie/toolkit/validate.py `_parse_fast`) against the
strict reader the processor uses (mie/contract/body.py `parse_json`): every file gets the very same report.

The cases: the whole hostile-input catalogue (tests/test_hostile_input.py) and files built to sit on each edge the
fast reader watches (a key given twice, a colon written as an escape, nesting at and past the limit and past what
orjson writes back, integers beyond 64 bits, lone surrogates), each as a file of `mie validate` and as the same
text through the strict reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mie.toolkit import validate as toolkit
from tests.conftest import exam_message, exam_record
from tests.test_hostile_input import JSON_CASES, good_body, with_extra

TOO_BIG = {"body-over-the-limit", "4000-full-records-over-the-body-limit", "100000-records", "nested-100000-arrays"}


def nested(levels: int) -> str:
    return '"x": ' + "[" * levels + "]" * levels


EDGES = {
    "key-twice-in-a-record": good_body().replace('"certno": ', '"gend": "1", "certno": '),
    "key-twice-with-a-colon-in-a-string": with_extra(good_body(psnName="a:b"), '"psnName": "c"'),
    "colon-written-as-an-escape": good_body(psnName="a\\u003ab"),
    "colon-escape-and-key-twice": with_extra(good_body(), '"infno\\u003a": 1, "infCode": "x"'),
    "nested-at-the-limit": with_extra(good_body(), nested(31)),
    "nested-just-past-the-limit": with_extra(good_body(), nested(32)),
    "nested-past-what-orjson-writes": with_extra(good_body(), nested(300)),
    "nested-past-what-orjson-reads": with_extra(good_body(), nested(1100)),
    "integer-of-19-digits": good_body().replace('"age": 35', '"age": 1234567890123456789'),
    "integer-of-20-digits-negative": with_extra(good_body(), '"x": -12345678901234567890'),
    "digits-in-a-string": good_body(psnName="12345678901234567890123"),
    "lone-surrogate": good_body().replace("李丽", "\\udc00"),
    "a-surrogate-pair": good_body().replace("李丽", "\\ud83d\\ude00"),
}


def same_report(path: Path, raw: bytes) -> dict[str, object]:
    path.write_bytes(raw)
    from_file = toolkit.validate_file(path).as_dict()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # the file's own decoding names the bytes; nothing to compare with
        return from_file
    assert from_file == toolkit.validate_text(text, None, str(path), path.parent).as_dict()
    return from_file


@pytest.mark.parametrize("case", sorted(set(JSON_CASES) - TOO_BIG))
def test_the_hostile_catalogue(tmp_path: Path, case: str) -> None:
    same_report(tmp_path / "body.json", JSON_CASES[case].content())


def test_the_large_cases_of_the_hostile_catalogue(tmp_path: Path) -> None:
    for case in sorted(TOO_BIG):
        same_report(tmp_path / f"{case}.json", JSON_CASES[case].content())


@pytest.mark.parametrize("case", sorted(EDGES))
def test_the_edges_the_fast_reader_watches(tmp_path: Path, case: str) -> None:
    report = same_report(tmp_path / "body.json", EDGES[case].encode())
    assert report["transaction"] is not None or "JSON" in json.dumps(report, ensure_ascii=False)


def test_a_batch_file(tmp_path: Path) -> None:
    records = [exam_record(psnName=f"李丽{n}") for n in range(50)]
    report = same_report(tmp_path / "batch.json", json.dumps(exam_message(*records), ensure_ascii=False).encode())
    assert report["valid"]
