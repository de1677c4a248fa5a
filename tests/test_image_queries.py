"""§2.7/§2.8 taken ahead of connexion (mie.web.queries) answer exactly what connexion's route answers: the same
status, content type and bytes for good requests and for every hostile or broken body, and the same audit.

Each case is sent twice over the same processor: once to the app as it runs (the lean path), once to the same
app built without the LeanTransactions layer (connexion's routing, its validator and the handler), and the answers
are compared byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from httpx import Response
from starlette.testclient import TestClient

import mie.web.app as web_app
from mie.client import Messages, wire
from mie.runtime import Runtime
from mie.service import exams, images
from mie.web.queries import LeanTransactions
from tests.conftest import exam_message, img_info_message
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.retrieval_helpers import ALLOWED, QUERIER, QUERIER_KEY, QUERY_IMAGES, file_content, person_record, register_querier
from tests.test_fetch_large import store_instance

Body = Callable[[dict[str, Any]], bytes]


def text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def changed(**changes: Any) -> Body:
    """The message with envelope fields changed (None removes one)."""

    def build(message: dict[str, Any]) -> bytes:
        message = {**message, **changes}
        return text({name: value for name, value in message.items() if value is not None}).encode()

    return build


def input_changed(**changes: Any) -> Body:
    def build(message: dict[str, Any]) -> bytes:
        given = {**message["input"], **changes}
        return text({**message, "input": {name: value for name, value in given.items() if value is not None}}).encode()

    return build


def prepended(member: bytes) -> Body:
    """The message with `member` spliced in as its first member, valid JSON or not."""
    return lambda message: b"{" + member + b", " + text(message).encode()[1:]


CASES: dict[str, tuple[Body, str]] = {
    "good-fetch": (lambda message: text(message).encode(), "application/json"),
    "good-list": (input_changed(serviceName="queryImgCaheFileSn", imgFileSn=None), "application/json"),
    "utf16-with-bom": (lambda message: text(message).encode("utf-16"), "application/json"),
    "gbk-declared": (lambda message: text(message).encode("gbk"), "application/json; charset=GBK"),
    "unknown-charset": (lambda message: text(message).encode(), "application/json; charset=klingon"),
    "invalid-utf8": (lambda message: text(message).encode()[:-2] + b"\xc0\xaf\xff}", "application/json"),
    "utf16-without-bom": (lambda message: text(message).encode("utf-16-le"), "application/json"),
    "nested-100000-arrays": (lambda _: b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "integer-of-5000-digits": (prepended(b'"x": ' + b"9" * 5000), "application/json"),
    "NaN": (prepended(b'"x": NaN'), "application/json"),
    "duplicate-key": (prepended(b'"infno": "x"'), "application/json"),
    "body-over-the-limit": (prepended(b'"x": "' + b"x" * (11 << 20) + b'"'), "application/json"),
    "only-whitespace": (lambda _: b" \r\n\t " * 100, "application/json"),
    "empty": (lambda _: b"", "application/json"),
    "a-bare-string": (lambda _: json.dumps("x" * 1000).encode(), "application/json"),
    "not-json-content-type": (lambda message: text(message).encode(), "text/plain"),
    "another-infno": (changed(infno="queryExamRpotImgIndxListFHospital"), "application/json"),
    "no-institution": (changed(fixmedinsCode=None), "application/json"),
    "wrong-key": (changed(key="not-the-key"), "application/json"),
    "unregistered-institution": (changed(fixmedinsCode="999999999999", key=None), "application/json"),
    "no-service-name": (input_changed(serviceName=None), "application/json"),
    "another-service-name": (input_changed(serviceName="queryEverything"), "application/json"),
    "no-file-sn": (input_changed(imgFileSn=None), "application/json"),
    "unknown-index": (input_changed(hiImgIndx=f"111-110101197804050041-{'2' * 14}-{'0' * 13}-{'0' * 9}"), "application/json"),
    "unknown-instance": (input_changed(imgFileSn={"examUuid": "1.2", "snUuid": "1.3", "instUuid": "1.4"}), "application/json"),
}


@pytest.fixture
def stored(runtime: Runtime) -> tuple[dict[str, Any], bytes]:
    """A fetch message of the querier (with its key) for one stored instance, and the instance's bytes."""
    register_querier(runtime)
    record = person_record(psnName="John Doe", examDate="2024-04-04")
    assert exams.save_exam_records(runtime.contract, runtime.database, exam_message(record)).body["code"] == 0
    assert images.save_img_info(runtime.contract, runtime.database, img_info_message(record, total=1)).body["code"] == 0
    data = part10_bytes(make_instance(str(record["studyUid"])))
    file_sn, _ = store_instance(runtime, record, data, len(data))
    return wire(Messages(QUERIER, QUERIER_KEY).fetch_image(str(record["hiImgIndx"]), file_sn)), data


def through_connexion(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    """The app without the LeanTransactions layer: connexion routes and validates, the handler answers."""
    with monkeypatch.context() as patch:
        patch.setattr(web_app, "MIDDLEWARES", [m for m in web_app.MIDDLEWARES if m is not LeanTransactions])
        app = web_app.create_app(runtime)
    return TestClient(app, raise_server_exceptions=False, client=(ALLOWED, 50000))


@dataclass
class TwoPaths:
    """The app as it runs (`lean`) and the app through connexion (`connexion`), both from ALLOWED, and the paths the
    lean layer took."""

    lean: TestClient
    connexion: TestClient
    taken: list[str]

    def post(
        self,
        case: str,
        path: str,
        content: tuple[bytes, bytes],
        content_type: str,
        events: Callable[[], list[Any]] = list,
    ) -> tuple[Response, Response, list[Any], list[Any]]:
        """`content[0]` to the lean app, `content[1]` to connexion: both answers, each with the events it added.
        Checks what every answer must show: the layer took the request (or not, for text/plain) and only its own
        app's, never a 5xx, JSON with its Content-Length."""
        headers, took, self.taken[:] = {"content-type": content_type}, [] if content_type == "text/plain" else [path], []
        seen = len(events())
        lean = self.lean.post(path, content=content[0], headers=headers)
        lean_events = events()[seen:]
        assert self.taken == took, case  # the layer took it, or not
        old = self.connexion.post(path, content=content[1], headers=headers)
        old_events = events()[seen + len(lean_events) :]
        assert self.taken == took, case  # and not the other app's
        assert lean.status_code < 500 and lean.headers["content-type"].startswith("application/json"), (case, lean.text[:300])
        assert int(lean.headers["content-length"]) == len(lean.content), case
        return lean, old, lean_events, old_events


def same_answer(lean: Response, old: Response, lean_content: bytes | None = None) -> bool:
    """The same status, content type and bytes (`lean_content`: the lean answer's bytes as the caller maps them)."""
    content = lean.content if lean_content is None else lean_content
    return (lean.status_code, lean.headers["content-type"], content) == (
        old.status_code,
        old.headers["content-type"],
        old.content,
    )


def lean_and_connexion(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> TwoPaths:
    """The app as it runs and the app through connexion, the lean layer's taking spied on."""
    taken: list[str] = []
    query = LeanTransactions._query

    async def spied(self: LeanTransactions, scope: Any, receive: Any, send: Any) -> None:
        taken.append(scope["path"])
        await query(self, scope, receive, send)

    monkeypatch.setattr(LeanTransactions, "_query", spied)
    lean_app = TestClient(web_app.create_app(runtime), raise_server_exceptions=False, client=(ALLOWED, 50000))
    return TwoPaths(lean_app, through_connexion(runtime, monkeypatch), taken)


def fetch_events(runtime: Runtime) -> list[tuple[Any, ...]]:
    return [(e["action"], e["outcome"], e["detail"], e["bytes_sent"]) for e in runtime.audit.events()]


def test_the_lean_path_answers_as_connexion_did(
    runtime: Runtime, stored: tuple[dict[str, Any], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    message, data = stored
    paths = lean_and_connexion(runtime, monkeypatch)
    for case, (build, content_type) in CASES.items():
        content = build(message)
        events = partial(fetch_events, runtime)
        lean, old, lean_events, old_events = paths.post(case, QUERY_IMAGES, (content, content), content_type, events)
        assert same_answer(lean, old), (case, lean.text[:300], old.text[:300])
        assert lean_events == old_events, case  # an event for what reached the transaction, none for the rest
        if case == "good-fetch":
            assert md5(file_content(lean.json())) == md5(data) and lean_events[0][3] == len(data)
