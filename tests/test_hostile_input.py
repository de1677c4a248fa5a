"""Hostile input, as a catalogue: whatever a sender sends, the answer is in the spec's envelope and never a 5xx,
HTML or a traceback; what cannot be taken is refused with a clear message; nothing broken is stored; and the
next good message is taken.

Each case runs on SQLite and PostgreSQL (the `client`/`runtime` fixtures). The slow client and the oversized
request head need a real server: uvicorn in a thread, spoken to over a raw socket.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.store.tables import AuditEvent, ExamRecord, Instance, Message, Report, SetlInfo, Study
from mie.web.app import create_app
from mie.web.protocol import BoundedHttpToolsProtocol
from tests.conftest import INSTITUTION, KEY, SAVE_EXAM, exam_message, exam_record, new_msgid, served_in_thread
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.test_envelope import CATALOGUE

SAVE_IMG_FILE = "/mie/api/mie/saveImgFile"
SAVE_RPT_FILE = "/mie/api/mie/saveRptFile"
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
TABLES = (ExamRecord, SetlInfo, Message, AuditEvent, Study, Instance, Report)


def good_body(**changes: Any) -> str:
    """A §2.1 message that is taken, as text (the cases break it in one way each)."""
    return json.dumps(exam_message(exam_record(**changes)), ensure_ascii=False)


def with_extra(text: str, extra: str) -> str:
    """`text` (a JSON object) with `extra` spliced in as its first member, in any form, valid JSON or not."""
    return "{" + extra + ", " + text[1:]


def counts(runtime: Runtime) -> dict[str, int]:
    with Session(runtime.database.engine) as session:
        return {table.__tablename__: session.exec(select(func.count()).select_from(table)).one() for table in TABLES}


def data_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.data_dir
    return sorted(path for path in root.rglob("*") if path.is_file() and ".tmp" not in path.parts) if root.exists() else []


def assert_clean_refusal(answer: Any, code: int, says: str) -> dict[str, Any]:
    """A 4xx in the envelope, with the catalogue's code and a message that says what was wrong, and is short."""
    assert answer.headers["content-type"].startswith("application/json"), answer.text[:300]
    body = answer.json()
    assert set(body) == {"code", "type", "message", "data"}, body
    assert body["code"] == code and body["type"] == "error", body
    assert 400 <= answer.status_code < 500 and answer.status_code == CATALOGUE[code]
    assert says in body["message"], body["message"]
    assert len(answer.content) < 20_000, "an answer never echoes a hostile value whole"
    assert "Traceback" not in answer.text and "<html" not in answer.text.lower()
    return body


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        assert record.levelno < logging.ERROR and record.exc_info is None, record.getMessage()[:300]
        assert "Traceback" not in record.getMessage()


def assert_next_good_message_is_taken(client: TestClient, runtime: Runtime) -> None:
    before = counts(runtime)["exam_record"]
    answer = client.post(SAVE_EXAM, json=exam_message(exam_record()))
    assert answer.status_code == 200 and answer.json()["code"] == 0, answer.text[:300]
    assert counts(runtime)["exam_record"] == before + 1


# --- JSON bodies ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonCase:
    content: Callable[[], bytes]
    code: int  # 0: taken
    says: str = ""
    content_type: str = "application/json"


JSON_CASES: dict[str, JsonCase] = {
    "nested-100000-arrays": JsonCase(lambda: b"[" * 100_000 + b"]" * 100_000, 1001, "嵌套超过"),
    "nested-100000-objects": JsonCase(lambda: b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 1001, "嵌套超过"),
    "nested-arrays-in-a-field": JsonCase(
        lambda: with_extra(good_body(), '"x": ' + "[" * 100_000 + "]" * 100_000).encode(), 1001, "嵌套超过"
    ),
    "nested-just-past-the-parser": JsonCase(
        lambda: with_extra(good_body(), '"x": ' + "[" * 900 + "]" * 900).encode(), 1001, "嵌套超过"
    ),
    "integer-of-5000-digits": JsonCase(lambda: with_extra(good_body(), '"x": ' + "9" * 5000).encode(), 1001, "位数超过"),
    "integer-of-4000-digits-in-age": JsonCase(
        lambda: good_body().replace('"age": 35', '"age": ' + "9" * 4000).encode(), 3002, "age"
    ),
    "float-beyond-range": JsonCase(lambda: with_extra(good_body(), '"x": 1' + "0" * 400 + ".5").encode(), 1001, "超出范围"),
    "exponent-beyond-range": JsonCase(lambda: good_body().replace('"age": 35', '"age": 1e400').encode(), 1001, "超出范围"),
    "NaN": JsonCase(lambda: good_body().replace('"age": 35', '"age": NaN').encode(), 1001, "NaN 不是 JSON 的数"),
    "Infinity": JsonCase(lambda: with_extra(good_body(), '"x": -Infinity').encode(), 1001, "-Infinity 不是 JSON 的数"),
    "duplicate-envelope-key": JsonCase(
        lambda: with_extra(good_body(), '"infCode": "H52030200193"').encode(), 1001, "字段 infCode 在同一对象中出现了两次"
    ),
    "duplicate-record-key": JsonCase(
        lambda: good_body().replace('"certno": ', '"certno": "110101197804050046", "certno": ').encode(),
        1001,
        "字段 certno 在同一对象中出现了两次",
    ),
    "invalid-utf8": JsonCase(
        lambda: good_body().replace("李丽", "LILI").encode().replace(b"LILI", b"\xc0\xaf\xff"), 1001, "不是有效的 UTF-8"
    ),
    "lone-surrogate-escape": JsonCase(lambda: good_body().replace("李丽", "\\ud800").encode(), 1001, "代理项"),
    "utf16-with-bom": JsonCase(lambda: good_body().encode("utf-16"), 0),
    "utf16-without-bom": JsonCase(lambda: good_body().encode("utf-16-le"), 1001, "没有 BOM 的 UTF-16/32"),
    "utf8-with-bom": JsonCase(lambda: b"\xef\xbb\xbf" + good_body().encode(), 0),
    "gbk-declared": JsonCase(lambda: good_body().encode("gbk"), 0, content_type="application/json; charset=GBK"),
    "gb18030-declared": JsonCase(lambda: good_body().encode("gb18030"), 0, content_type="application/json;charset=gb18030"),
    "gbk-undeclared": JsonCase(lambda: good_body().encode("gbk"), 1001, "charset=GBK"),
    "unknown-charset": JsonCase(lambda: good_body().encode(), 1002, "不支持的字符集", "application/json; charset=klingon"),
    "body-over-the-limit": JsonCase(
        lambda: with_extra(good_body(), '"x": "' + "x" * (11 * 1024 * 1024) + '"').encode(), 1006, "请求体超过"
    ),
    "100000-records": JsonCase(
        lambda: json.dumps({**exam_message(exam_record()), "input": [{}] * 100_000}).encode(), 1003, "至多 1000 项"
    ),
    "4000-full-records-over-the-body-limit": JsonCase(
        lambda: json.dumps(exam_message(*[exam_record()] * 4000), ensure_ascii=False).encode(), 1006, "请求体超过"
    ),
    "10-MB-string-in-a-field": JsonCase(lambda: good_body(psnName="李" * 3_300_000).encode(), 3002, "psnName"),
    "only-whitespace": JsonCase(lambda: b" \r\n\t " * 1000, 1001, "请求体为空"),
    "a-bare-string": JsonCase(lambda: json.dumps("x" * 100_000).encode(), 1003, "报文校验失败"),
}


@pytest.mark.parametrize("case", list(JSON_CASES), ids=list(JSON_CASES))
def test_a_hostile_json_body(client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture, case: str) -> None:
    """E-JSON-STRICT, E-INPUT-RECORDS"""
    spec = JSON_CASES[case]
    content = spec.content()
    answer = client.post(SAVE_EXAM, content=content, headers={"content-type": spec.content_type})
    assert answer.status_code < 500, answer.text[:300]
    if spec.code == 0:
        body = answer.json()
        assert answer.status_code == 200 and body["code"] == 0, body
        with Session(runtime.database.engine) as session:
            assert session.exec(select(ExamRecord)).one().record["psnName"] == "李丽"  # decoded, not mangled
    elif spec.code == 3002:  # the envelope is sound: the record is answered on its own, and refused
        body = answer.json()
        assert answer.status_code == 200 and body["code"] == 3002 and body["data"][0]["succFlag"] == "-1", body
        assert spec.says in body["data"][0]["message"] and len(answer.content) < 20_000
        assert counts(runtime)["exam_record"] == 0
    else:
        assert_clean_refusal(answer, spec.code, spec.says)
        assert all(count == 0 for count in counts(runtime).values()), counts(runtime)
    assert data_files(runtime) == []
    assert_no_traceback(caplog)
    assert_next_good_message_is_taken(client, runtime)


def test_records_up_to_the_bound_are_answered_each(client: TestClient, runtime: Runtime) -> None:
    """E-INPUT-RECORDS: 1000 records is the bound, and each is answered; 1001 is refused whole."""
    over = exam_message(exam_record())
    over["input"] = [{}] * 1001
    assert_clean_refusal(client.post(SAVE_EXAM, json=over), 1003, "input(交易输入,#6): 至多 1000 项, 实为 1001 项")
    at = exam_message(exam_record())
    at["input"] = [{}] * 999 + [exam_record()]
    body = client.post(SAVE_EXAM, json=at).json()
    assert body["code"] == 3001 and len(body["data"]) == 1000
    assert [result["succFlag"] for result in body["data"]].count("1") == 1
    assert counts(runtime)["exam_record"] == 1


# --- multipart (§2.2 saveImgFile, §2.4 saveRptFile) -------------------------------------------------------------


def upload_headers(infno: str) -> dict[str, str]:
    return {"infno": infno, "msgid": new_msgid(), "infTime": "2025-03-03 01:00:00", "infCode": INSTITUTION, "key": KEY}


@dataclass
class Part:
    name: str
    value: bytes
    filename: str | None = None
    extra_headers: list[str] = field(default_factory=list)


def multipart(parts: list[Part], boundary: str = "mieBoundary7MA4YWxk") -> bytes:
    out = []
    for part in parts:
        disposition = f'Content-Disposition: form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"\r\nContent-Type: application/octet-stream'
        head = "\r\n".join([disposition, *part.extra_headers])
        out.append(b"--" + boundary.encode() + b"\r\n" + head.encode() + b"\r\n\r\n" + part.value + b"\r\n")
    return b"".join(out) + b"--" + boundary.encode() + b"--\r\n"


@pytest.fixture
def exam(client: TestClient) -> dict[str, Any]:
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    return record


def image_parts(exam: dict[str, Any], filename: str = "image.dcm") -> list[Part]:
    data = part10_bytes(make_instance(exam["studyUid"]))
    fields = {
        "hiImgIdx": exam["hiImgIndx"],
        "studyUid": exam["studyUid"],
        "accessionNumber": "114649960",
        "fileMd5": md5(data),
        "imageTotalNum": "2",
    }
    return [Part(name, value.encode()) for name, value in fields.items()] + [Part("dicom", data, filename)]


def report_parts(exam: dict[str, Any], filename: str = "report.pdf") -> list[Part]:
    fields = {"hiImgIdx": exam["hiImgIndx"], "studyUid": exam["studyUid"], "rpotNo": "R1", "fileMd5": md5(PDF)}
    return [Part(name, value.encode()) for name, value in fields.items()] + [Part("examRpotPdf1", PDF, filename)]


@dataclass(frozen=True)
class UploadCase:
    build: Callable[[list[Part]], tuple[bytes, str]]  # the good parts -> body, Content-Type
    code: int  # 0: taken
    says: str = ""


BOUNDARY = "mieBoundary7MA4YWxk"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def _renamed_file(parts: list[Part], filename: str) -> list[Part]:
    return parts[:-1] + [Part(parts[-1].name, parts[-1].value, filename)]


UPLOAD_CASES: dict[str, UploadCase] = {
    "a-thousand-text-parts": UploadCase(
        lambda parts: (multipart(parts + [Part(f"x{i}", b"1") for i in range(1000)]), FORM), 1003, "表单超过 64 个部分"
    ),
    "a-thousand-file-parts": UploadCase(
        lambda parts: (multipart(parts + [Part(f"x{i}", b"1" * 1000, f"{i}.dcm") for i in range(1000)]), FORM),
        1003,
        "表单超过 64 个部分",
    ),
    "the-file-part-twice": UploadCase(lambda parts: (multipart(parts + parts[-1:]), FORM), 0),  # the first is taken
    "no-boundary": UploadCase(lambda parts: (multipart(parts), "multipart/form-data"), 1003, "缺少 boundary"),
    "another-boundary": UploadCase(lambda parts: (multipart(parts, "other"), FORM), 1003, "multipart 表单无法解析"),
    "not-multipart-at-all": UploadCase(lambda parts: (b"\x00\xff" * 5000, FORM), 1003, "multipart 表单无法解析"),
    "cut-short": UploadCase(lambda parts: (multipart(parts)[:-300], FORM), 1003, "必填项缺失"),
    "a-path-as-file-name": UploadCase(lambda parts: (multipart(_renamed_file(parts, "../../etc/passwd")), FORM), 0),
    "an-absolute-path-as-file-name": UploadCase(lambda parts: (multipart(_renamed_file(parts, "/etc/passwd")), FORM), 0),
    "a-100-kB-file-name": UploadCase(
        lambda parts: (multipart(_renamed_file(parts, "a" * 100_000)), FORM), 1003, "multipart 表单无法解析"
    ),
    "a-100-kB-part-header": UploadCase(
        lambda parts: (multipart(parts[:-1] + [Part(parts[-1].name, parts[-1].value, "f", ["X-Pad: " + "a" * 100_000])]), FORM),
        1003,
        "multipart 表单无法解析",
    ),
    "a-10-MB-text-field": UploadCase(
        lambda parts: (multipart([Part(parts[0].name, b"1" * 10_000_000), *parts[1:]]), FORM), 1003, "multipart 表单无法解析"
    ),
}


@pytest.mark.parametrize("transaction", ["saveImgFile", "saveRptFile"])
@pytest.mark.parametrize("case", list(UPLOAD_CASES), ids=list(UPLOAD_CASES))
def test_a_hostile_multipart_body(
    client: TestClient, runtime: Runtime, exam: dict[str, Any], caplog: pytest.LogCaptureFixture, case: str, transaction: str
) -> None:
    spec = UPLOAD_CASES[case]
    parts = image_parts(exam) if transaction == "saveImgFile" else report_parts(exam)
    content, content_type = spec.build(parts)
    path = SAVE_IMG_FILE if transaction == "saveImgFile" else SAVE_RPT_FILE
    before = counts(runtime)
    answer = client.post(path, content=content, headers={**upload_headers(transaction), "content-type": content_type})
    assert answer.status_code < 500, answer.text[:300]
    stored = data_files(runtime)
    if spec.code == 0:
        assert answer.status_code == 200 and answer.json()["code"] == 0, answer.text[:300]
        assert len(stored) == 1 and stored[0].resolve().is_relative_to(runtime.settings.data_dir.resolve())
        assert "passwd" not in str(stored[0])
    else:
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert body["code"] == spec.code and spec.says in body["message"], body
        assert 400 <= answer.status_code < 500 and "<html" not in answer.text.lower() and len(answer.content) < 20_000
        assert counts(runtime) == before and stored == []
    assert_no_traceback(caplog)
    assert_next_good_message_is_taken(client, runtime)
    good = client.post(path, content=multipart(parts), headers={**upload_headers(transaction), "content-type": FORM})
    assert good.json()["code"] == 0, good.text[:300]


def test_an_oversized_envelope_header_is_refused_short(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    head = upload_headers("saveImgFile") | {"key": "k" * 100_000, "content-type": FORM}
    answer = client.post(SAVE_IMG_FILE, content=multipart(image_parts(exam)), headers=head)
    body = assert_clean_refusal(answer, 1003, "key(密钥值,#5)")
    assert "kkkkkkkkkk" not in answer.text  # the key is never echoed, even a wrong one
    assert counts(runtime)["instance"] == 0 and body["data"][0]["rule"] == "maxLength"


# --- a real server: slow clients and oversized request heads ----------------------------------------------------


@pytest.fixture
def server(runtime: Runtime) -> Iterator[tuple[str, int]]:
    """`create_app` under uvicorn with the protocol `mie serve` uses, in a thread, on a free port."""
    with served_in_thread(create_app(runtime), http=BoundedHttpToolsProtocol) as port:
        yield "127.0.0.1", port


def http_request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = {"Host": "mie", "Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close"}
    head.update(headers or {})
    lines = [f"POST {path} HTTP/1.1", *(f"{name}: {value}" for name, value in head.items())]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def read_answer(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def exchange(address: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(address, timeout=60) as connection:
        connection.sendall(request)
        return read_answer(connection)


def test_a_slow_client_does_not_hold_up_others(server: tuple[str, int], runtime: Runtime) -> None:
    slow_body = json.dumps(exam_message(exam_record()), ensure_ascii=False).encode()
    request = http_request(SAVE_EXAM, slow_body)
    with socket.create_connection(server, timeout=60) as slow:
        slow.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        half = len(request) - len(slow_body) // 2
        for byte in range(half):  # byte by byte: the head and half the body
            slow.sendall(request[byte : byte + 1])
        # Meanwhile another sender is served, start to end, while the slow one is still mid-body.
        status, _, body = exchange(server, http_request(SAVE_EXAM, json.dumps(exam_message(exam_record())).encode()))
        assert status == 200 and json.loads(body)["code"] == 0
        assert counts(runtime)["exam_record"] == 1
        for byte in range(half, len(request)):
            slow.sendall(request[byte : byte + 1])
        status, _, body = read_answer(slow)
    assert status == 200 and json.loads(body)["code"] == 0
    assert counts(runtime)["exam_record"] == 2


@pytest.mark.parametrize(
    "request_bytes",
    [
        http_request(SAVE_EXAM, b"{}", {"X-Pad": "a" * 200_000}),
        http_request(SAVE_EXAM, b"{}", {f"X-Pad-{i}": "a" for i in range(20_000)}),
        b"POST /" + b"a" * 200_000 + b" HTTP/1.1\r\nHost: mie\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["one-200-kB-header", "20000-headers", "a-200-kB-url", "not-http"],
)
def test_an_oversized_or_broken_request_head(server: tuple[str, int], runtime: Runtime, request_bytes: bytes) -> None:
    """uvicorn's parsers bound neither the head's size nor its number of headers, and answer a broken request in
    text/plain: mie's protocol refuses a head over 64 KiB, and answers both in the envelope."""
    status, headers, body = exchange(server, request_bytes)
    assert status == 400 and headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["code"] == 1003 and answer["type"] == "error" and ("请求头" in answer["message"] or "HTTP" in answer["message"])
    assert all(count == 0 for count in counts(runtime).values())
    status, _, body = exchange(server, http_request(SAVE_EXAM, json.dumps(exam_message(exam_record())).encode()))
    assert status == 200 and json.loads(body)["code"] == 0


def _read_one_answer(connection: socket.socket) -> tuple[int, bytes]:
    """One answer on a kept-alive connection (its Content-Length says where it ends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split()[1]), body


def test_large_bodies_on_one_connection_are_not_taken_for_a_head(server: tuple[str, int], runtime: Runtime) -> None:
    """Only an incomplete head counts towards the head limit: bodies of 1 MB, one after another on a kept-alive
    connection, each ending in the chunk the next one starts in or not, are all answered."""
    with socket.create_connection(server, timeout=60) as connection:
        for _ in range(3):
            body = json.dumps(exam_message(exam_record())).encode() + b" " * 1_000_000  # JSON allows the padding
            request = http_request(SAVE_EXAM, body, {"Connection": "keep-alive"})
            connection.sendall(request)
            status, answer = _read_one_answer(connection)
            assert status == 200 and json.loads(answer)["code"] == 0, answer[:300]
    assert counts(runtime)["exam_record"] == 3


def test_nesting_is_refused_just_past_the_limit_however_few_brackets_are_in_strings() -> None:
    from mie.service.answers import MieError
    from mie.web.validators import MAX_DEPTH, parse_json

    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(MieError, match="嵌套超过"):
        parse_json("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(MieError, match="嵌套超过"):  # brackets in strings do not hide the real ones
        parse_json('{"a": "' + "{[" * 40 + '", "b": ' + "[" * (MAX_DEPTH) + "]" * MAX_DEPTH + "}")
    assert parse_json('{"a": "' + "{[" * 40 + '"}') == {"a": "{[" * 40}  # many brackets, all in a string
