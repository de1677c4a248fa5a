"""§2.2's multipart body read as it streams in (mie.web.uploads): the file part goes straight into the spool, in
whatever pieces the body arrives, and every way out leaves nothing half-written; the answer is remembered in the
instance's own transaction."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.service import images
from mie.store.tables import Instance, Message
from mie.web.app import create_app
from tests.conftest import SAVE_EXAM, exam_message, exam_record
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.test_hostile_input import FORM, Part, image_parts, multipart, upload_headers
from tests.test_images_http import SAVE_IMG_FILE, headers, stored, upload


@pytest.fixture
def exam(client: TestClient) -> dict[str, Any]:
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    return record


def spool_files(runtime: Runtime) -> list[Path]:
    return list((runtime.settings.data_dir / "tmp").glob("*"))


def rows(runtime: Runtime, table: type) -> int:
    with Session(runtime.database.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


async def _post_in_pieces(
    app: Any, body: bytes, head: dict[str, str], sizes: list[int], disconnect_after: int | None = None
) -> tuple[int, Any]:
    """The ASGI app called directly, the body given in pieces of the `sizes` in turn (a client's TCP reads), or
    cut off by a disconnect after `disconnect_after` bytes."""
    pieces: list[bytes] = []
    offset, turn = 0, 0
    end = len(body) if disconnect_after is None else disconnect_after
    while offset < end:
        size = min(sizes[turn % len(sizes)], end - offset)
        pieces.append(body[offset : offset + size])
        offset, turn = offset + size, turn + 1
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": disconnect_after is not None or n < len(pieces) - 1}
        for n, piece in enumerate(pieces)
    ]
    if disconnect_after is not None:
        messages.append({"type": "http.disconnect"})

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": SAVE_IMG_FILE, "raw_path": SAVE_IMG_FILE.encode(), "root_path": "", "query_string": b"",
        "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in head.items()]
        + [(b"content-length", str(len(body)).encode())],
        "server": ("testserver", 80), "client": ("127.0.0.1", 50000),
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(content)


@pytest.mark.parametrize("sizes", [[1], [7, 3, 64], [4093], [65536]], ids=["1-byte", "7-3-64", "4093", "64k"])
def test_a_body_in_any_pieces_stores_the_file_byte_for_byte(runtime: Runtime, exam: dict[str, Any], sizes: list[int]) -> None:
    parts = image_parts(exam)
    data = parts[-1].value
    status, answer = asyncio.run(
        _post_in_pieces(create_app(runtime), multipart(parts), {**upload_headers("saveImgFile"), "content-type": FORM}, sizes)
    )
    assert status == 200 and answer["code"] == 0, answer
    count, files = stored(runtime)
    assert count == 1 and [f.read_bytes() for f in files] == [data]
    assert spool_files(runtime) == []


def test_a_client_gone_mid_file_leaves_nothing(runtime: Runtime, exam: dict[str, Any]) -> None:
    body = multipart(image_parts(exam))
    status, answer = asyncio.run(
        _post_in_pieces(
            create_app(runtime), body, {**upload_headers("saveImgFile"), "content-type": FORM}, [512], len(body) - 400
        )
    )
    assert status == 400 and answer["code"] == 1001 and "连接已断开" in answer["message"], answer
    assert stored(runtime) == (0, []) and spool_files(runtime) == []


def test_the_upload_does_not_wait_for_starlettes_form_parse(
    client: TestClient, runtime: Runtime, exam: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is written into the spool as it arrives, not first into Starlette's temporary file."""

    async def no_form_parse(*_: object, **__: object) -> None:
        raise AssertionError("Starlette's multipart parse ran")

    monkeypatch.setattr("starlette.formparsers.MultiPartParser.parse", no_form_parse)
    data = part10_bytes(make_instance(exam["studyUid"]))
    answer = upload(client, exam, data)
    assert answer.status_code == 200 and answer.json()["code"] == 0, answer.text[:300]
    assert answer.headers["content-type"] == "application/json"
    assert [f.read_bytes() for f in stored(runtime)[1]] == [data]


def test_a_text_part_named_like_the_file_is_no_file(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    parts = image_parts(exam)
    parts[-1] = Part("dicom", parts[-1].value[:200].replace(b"\x00", b"."))  # no filename: a text field
    answer = client.post(SAVE_IMG_FILE, content=multipart(parts), headers={**upload_headers("saveImgFile"), "content-type": FORM})
    assert answer.status_code == 400 and answer.json()["code"] == 1003 and "dicom" in answer.json()["message"], answer.text
    assert stored(runtime) == (0, []) and spool_files(runtime) == []


def test_a_replay_keeps_no_second_file(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    data = part10_bytes(make_instance(exam["studyUid"]))
    head = headers()
    first = upload(client, exam, data, head=head)
    again = upload(client, exam, data, head=head)
    assert first.json()["code"] == 0 and again.json() == first.json()
    assert stored(runtime)[0] == 1 and len(stored(runtime)[1]) == 1 and spool_files(runtime) == []


def test_the_answer_is_remembered_in_the_instances_transaction(
    client: TestClient, runtime: Runtime, exam: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If remembering the answer fails, the instance is not stored either: they commit together or not at all."""
    data = part10_bytes(make_instance(exam["studyUid"]))
    messages = rows(runtime, Message)

    def broken(*_: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(images, "remember_answer", broken)
    answer = upload(client, exam, data)
    assert answer.status_code == 500 and answer.json()["code"] == 5000
    assert stored(runtime) == (0, []) and spool_files(runtime) == [] and rows(runtime, Message) == messages
    monkeypatch.undo()
    answer = upload(client, exam, data)
    assert answer.json()["code"] == 0 and rows(runtime, Instance) == 1 and rows(runtime, Message) == messages + 1
    assert md5(stored(runtime)[1][0].read_bytes()) == md5(data)
