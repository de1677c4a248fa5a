"""§2.1 taken ahead of connexion (mie.web.queries) answers what connexion's route answers: for good messages, refused
records, replays and every hostile or broken body the same status, content type and bytes, and the same rows.

As in tests/test_image_queries.py, each case is sent to the app as it runs (the lean path) and to the same app built
without the layer (connexion's routing, its validator and the handler), over the same processor. A message is
remembered by its msgid and its records by their index, so each app is sent its own msgid and indexes; the lean
path's answer, with the other app's msgid and indexes put in, must be the other app's answer byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from mie.runtime import Runtime
from mie.service import exams
from tests.conftest import KEY, SAVE_EXAM, exam_message, exam_record, new_index, new_msgid
from tests.test_image_queries import lean_and_connexion, prepended, same_answer, text

Message = Callable[[], dict[str, Any]]


def good() -> dict[str, Any]:
    return exam_message(exam_record())


def with_changes(**changes: Any) -> Message:
    """A good message with envelope fields changed (None removes one)."""

    def build() -> dict[str, Any]:
        message = {**good(), **changes}
        return {name: value for name, value in message.items() if value is not None}

    return build


def with_record(**changes: Any) -> Message:
    return lambda: exam_message(exam_record(**changes))


# (message, how it is sent as bytes, Content-Type)
CASES: dict[str, tuple[Message, Callable[[dict[str, Any]], bytes], str]] = {
    "good": (good, lambda m: text(m).encode(), "application/json"),
    "two-records-one-refused": (
        lambda: exam_message(exam_record(), exam_record(psnCertType="ZZZ")),
        lambda m: text(m).encode(),
        "application/json",
    ),
    "a-record-refused": (with_record(examDate="2024-13-01"), lambda m: text(m).encode(), "application/json"),
    "a-record-not-an-object": (lambda: exam_message("x"), lambda m: text(m).encode(), "application/json"),  # type: ignore[arg-type]
    "utf16-with-bom": (good, lambda m: text(m).encode("utf-16"), "application/json"),
    "gbk-declared": (good, lambda m: text(m).encode("gbk"), "application/json; charset=GBK"),
    "unknown-charset": (good, lambda m: text(m).encode(), "application/json; charset=klingon"),
    "invalid-utf8": (good, lambda m: text(m).encode()[:-2] + b"\xc0\xaf\xff}", "application/json"),
    "nested-100000-arrays": (good, lambda _: b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "integer-of-5000-digits": (good, prepended(b'"x": ' + b"9" * 5000), "application/json"),
    "NaN": (good, prepended(b'"x": NaN'), "application/json"),
    "duplicate-key": (good, prepended(b'"infno": "x"'), "application/json"),
    "body-over-the-limit": (good, prepended(b'"x": "' + b"x" * (11 << 20) + b'"'), "application/json"),
    "empty": (good, lambda _: b"", "application/json"),
    "a-bare-string": (good, lambda _: json.dumps("x" * 1000).encode(), "application/json"),
    "not-json-content-type": (good, lambda m: text(m).encode(), "text/plain"),
    "another-infno": (with_changes(infno="saveImgInfo"), lambda m: text(m).encode(), "application/json"),
    "no-institution": (with_changes(infCode=None), lambda m: text(m).encode(), "application/json"),
    "no-key": (with_changes(key=None), lambda m: text(m).encode(), "application/json"),
    "wrong-key": (with_changes(key="not-the-key"), lambda m: text(m).encode(), "application/json"),
    "unregistered-institution": (with_changes(infCode="999999999999"), lambda m: text(m).encode(), "application/json"),
    "input-empty": (with_changes(input=[]), lambda m: text(m).encode(), "application/json"),
    "bad-inf-time": (with_changes(infTime="2024-13-01 00:00:00"), lambda m: text(m).encode(), "application/json"),
}


def _renamed(message: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The message with a new msgid and new indexes for the other app, and the replacements (this -> other)."""
    other = json.loads(json.dumps(message))
    replacements: dict[str, str] = {}
    if isinstance(other.get("msgid"), str):
        other["msgid"] = new_msgid()
        replacements[message["msgid"]] = other["msgid"]
    for record in other.get("input") or []:
        if isinstance(record, dict) and isinstance(record.get("hiImgIndx"), str):
            certificate, certno = record["hiImgIndx"].split("-")[:2]  # the same person, the next moment
            fresh = new_index({"psnCertType": certificate, "certno": certno})
            replacements[record["hiImgIndx"]] = fresh
            record["hiImgIndx"] = fresh
    return other, replacements


def _replaced(content: bytes, replacements: dict[str, str]) -> bytes:
    for this, other in replacements.items():
        content = content.replace(this.encode(), other.encode())
    return content


def test_the_lean_path_answers_2_1_as_connexion_did(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = lean_and_connexion(runtime, monkeypatch)
    answered = set()
    for case, (build, encode, content_type) in CASES.items():
        message = build()
        other, replacements = _renamed(message)
        lean, old, _, _ = paths.post(case, SAVE_EXAM, (encode(message), encode(other)), content_type)
        assert same_answer(lean, old, _replaced(lean.content, replacements)), (case, lean.text[:300], old.text[:300])
        for index in replacements:  # what one app stored, the other stored under its own index
            if index != message.get("msgid"):
                lean_row, old_row = (
                    exams.exam_record(runtime.database, index),
                    exams.exam_record(runtime.database, replacements[index]),
                )
                assert (lean_row is None) == (old_row is None), case
                if lean_row is not None and old_row is not None:
                    assert lean_row.record == old_row.record | {"hiImgIndx": index}, case
        answered.add(lean.json()["code"] if lean.content else -1)
    assert len(answered) >= 4  # success, partial refusal, envelope refused, key refused at least


_FIRST_USED = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def test_a_replay_is_answered_alike(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same message sent again, and the same msgid with another body, are answered alike on both paths."""
    paths = lean_and_connexion(runtime, monkeypatch)
    message = good()
    other, replacements = _renamed(message)
    first = [app.post(SAVE_EXAM, content=text(m).encode(), headers={"content-type": "application/json"})
             for app, m in ((paths.lean, message), (paths.connexion, other))]  # fmt: skip
    again = [app.post(SAVE_EXAM, content=text(m).encode(), headers={"content-type": "application/json"})
             for app, m in ((paths.lean, message), (paths.connexion, other))]  # fmt: skip
    assert _replaced(first[0].content, replacements) == first[1].content
    assert again[0].status_code == again[1].status_code
    assert _replaced(again[0].content, replacements) == again[1].content
    conflicting = [
        app.post(
            SAVE_EXAM,
            content=text({**m, "key": KEY, "infTime": "2025-01-01 00:00:00"}).encode(),
            headers={"content-type": "application/json"},
        )
        for app, m in ((paths.lean, message), (paths.connexion, other))
    ]
    assert conflicting[0].status_code == conflicting[1].status_code
    # the refusal names when the msgid was first used: each app's first message had its own second
    first_used = [_FIRST_USED.findall(answer.content) for answer in conflicting]
    assert [len(times) for times in first_used] == [1, 1], first_used
    assert _FIRST_USED.sub(b"", _replaced(conflicting[0].content, replacements)) == _FIRST_USED.sub(b"", conflicting[1].content)
    assert conflicting[0].json()["code"] != 0
