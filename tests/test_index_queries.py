"""§2.6 taken ahead of connexion (mie.web.queries) answers what connexion's route answers: for every hostile or
broken body the same status, content type and bytes; for good requests the same JSON (each link's token aside,
which is sealed afresh with a random nonce every time); and the same audit.

As in tests/test_image_queries.py, each case is sent to the app as it runs (the lean path) and to the same app built
without the layer (connexion's routing, its validator and the handler), over the same processor.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

import pytest

from mie.client import Messages, wire
from mie.runtime import Runtime
from mie.service import exams
from tests.conftest import exam_message
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, QUERY_INDEX, person_record, register_querier
from tests.test_image_queries import CASES, Body, changed, input_changed, lean_and_connexion, same_answer, text

CERTNO = "110101197804050041"
_TOKEN = re.compile(rb"\?t=[A-Za-z0-9_-]+")

# The hostile and broken bodies of §2.7/§2.8's cases (but those of their own input), and §2.6's.
_IMAGES_OWN = {"good-fetch", "good-list", "another-infno", "no-service-name", "another-service-name", "no-file-sn"}
INDEX_CASES: dict[str, tuple[Body, str]] = {
    **{case: CASES[case] for case in CASES if case not in _IMAGES_OWN and not case.startswith("unknown-in")},
    "good": (lambda message: text(message).encode(), "application/json"),
    "good-without-key-from-an-allowed-address": (changed(key=None), "application/json"),
    "another-infno": (changed(infno="queryImgCaheFIndex"), "application/json"),
    "unknown-person": (input_changed(certno="110101199001010011"), "application/json"),
    "another-name": (input_changed(psnName="李丽"), "application/json"),
    "no-certno": (input_changed(certno=None), "application/json"),
    "begntime-after-endtime": (input_changed(begntime="2025-01-01", endtime="2024-01-01"), "application/json"),
    "bad-date": (input_changed(begntime="2024-13-01"), "application/json"),
    "unknown-certificate-type": (input_changed(psnCertType="ZZZ"), "application/json"),
    "input-not-an-object": (changed(input=["x"]), "application/json"),
}


@pytest.fixture
def message(runtime: Runtime) -> dict[str, Any]:
    """A §2.6 message of the querier (with its key) for a person with three stored exams."""
    register_querier(runtime)
    records = [person_record(CERTNO, psnName="John Doe", examDate=f"2024-0{month}-04") for month in (1, 2, 3)]
    assert exams.save_exam_records(runtime.contract, runtime.database, exam_message(*records)).body["code"] == 0
    query = {"psnCertType": "111", "certno": CERTNO, "psnName": "John Doe", "begntime": "2024-01-01", "endtime": "2024-12-31"}
    return wire(Messages(QUERIER, QUERIER_KEY).query_index(query))


def index_events(runtime: Runtime) -> list[tuple[Any, ...]]:
    return [(e["action"], e["outcome"], e["detail"], e["items"], e["person_masked"]) for e in runtime.audit.events()]


def test_the_lean_path_answers_2_6_as_connexion_did(
    runtime: Runtime, message: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = lean_and_connexion(runtime, monkeypatch)
    answered: set[int] = set()
    for case, (build, content_type) in INDEX_CASES.items():
        content = build(message)
        events = partial(index_events, runtime)
        lean, old, lean_events, old_events = paths.post(case, QUERY_INDEX, (content, content), content_type, events)
        if lean.status_code == 200:  # the records, written by orjson: the same JSON, tokens aside
            assert old.status_code == 200 and lean.headers["content-type"].startswith("application/json"), case
            assert json.loads(_TOKEN.sub(b"?t=", lean.content)) == json.loads(_TOKEN.sub(b"?t=", old.content)), case
        else:  # a refusal: the same bytes
            assert same_answer(lean, old), (case, lean.text[:300], old.text[:300])
        assert lean_events == old_events, case
        answered.add(lean.json()["code"] if lean.content else -1)
    assert {0, 1003, 2001} <= answered  # found, refused by the contract, refused by access: all compared
    good = paths.lean.post(QUERY_INDEX, json=message).json()["data"]
    assert [record["examDate"] for record in good] == ["2024-03-04", "2024-02-04", "2024-01-04"]
    assert all("?t=" in record["examRpotLinkUrl"] and "?t=" in record["imgInfoLinkUrl"] for record in good)
