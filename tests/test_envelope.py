"""The envelope: every refusal is in the spec's envelope, with its catalogue code, and writes nothing."""

from __future__ import annotations

import json
import logging

import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from mie.contract import current
from mie.runtime import Runtime
from mie.store.tables import AuditEvent, ExamRecord, Message
from tests.conftest import KEY, SAVE_EXAM, exam_message, exam_record

CONTRACT = current()

RESPONSE_CODE = CONTRACT.component("ResponseCode")
CATALOGUE = dict(zip(RESPONSE_CODE["enum"], RESPONSE_CODE["x-http-status"], strict=True))


def nothing_written(runtime: Runtime) -> bool:
    with Session(runtime.database.engine) as session:
        return all(
            session.exec(select(func.count()).select_from(table)).one() == 0 for table in (ExamRecord, Message, AuditEvent)
        )


def assert_refused(answer, code: int) -> dict:  # type: ignore[no-untyped-def]
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"code", "type", "message", "data"}
    assert body["code"] == code and body["type"] == "error" and body["message"]
    assert answer.status_code == CATALOGUE[code]
    assert "Traceback" not in answer.text and "<html" not in answer.text.lower()
    return body


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b'{"infno": "saveExamRpotImgInfo",', "application/json", 1001),
        (b"\xff\xfe\x00{}", "application/json", 1001),
        (b"", "application/json", 1001),
        (b"[1, 2]", "application/json", 1003),
        (b"infno=saveExamRpotImgInfo", "application/x-www-form-urlencoded", 1002),
        (b"<xml/>", "text/xml", 1002),
    ],
    ids=["unterminated", "not-utf8", "empty", "not-an-object", "form", "xml"],
)
def test_what_is_not_a_json_envelope_is_refused(
    client: TestClient, runtime: Runtime, content: bytes, content_type: str, code: int
) -> None:
    answer = client.post(SAVE_EXAM, content=content, headers={"content-type": content_type})
    assert_refused(answer, code)
    assert nothing_written(runtime)


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"infCode": "H99999999999"}, 2001, "机构编号或密钥错误"),
        ({"key": "wrong-key"}, 2001, "机构编号或密钥错误"),
        ({"infno": "deleteExamRpotImgIdxInfo"}, 1004, "infno(交易编号,#1)"),
        ({"msgid": "20250301"}, 1003, "msgid(发送方报文 ID,#2)"),
        ({"infTime": "2025-03-03T01:00:00"}, 1003, "infTime(交易时间,#3): '2025-03-03T01:00:00' 不符合格式 yyyy-MM-dd HH:mm:ss"),
        ({"infTime": "2025-02-30 01:00:00"}, 1003, "不是有效的日期时间"),
        ({"input": []}, 1003, "input(交易输入,#6): 至少应有 1 项"),
        ({"unexpected": 1}, 1003, "unexpected"),
    ],
    ids=["unknown-institution", "wrong-key", "infno", "msgid", "infTime-format", "infTime-date", "empty-input", "extra-field"],
)
def test_a_bad_envelope_is_refused_whole(client: TestClient, runtime: Runtime, change: dict, code: int, says: str) -> None:
    message = exam_message(exam_record())
    message.update(change)
    body = assert_refused(client.post(SAVE_EXAM, json=message), code)
    assert says in body["message"]
    assert nothing_written(runtime)


def test_every_missing_envelope_field_is_named(client: TestClient, runtime: Runtime) -> None:
    message = exam_message(exam_record())
    for field in ("infno", "msgid", "infTime", "infCode", "key", "input"):
        del message[field]
    body = assert_refused(client.post(SAVE_EXAM, json=message), 1003)
    assert [error["code"] for error in body["data"]] == ["infno", "msgid", "infTime", "infCode", "key", "input"]
    assert all(error["rule"] == "required" for error in body["data"])
    assert nothing_written(runtime)


def test_a_body_over_the_limit_is_refused(client: TestClient, runtime: Runtime) -> None:
    huge = json.dumps(exam_message(exam_record(imgDscr="影" * 3000) and exam_record())).encode()
    huge = huge[:-1] + b', "padding": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    assert_refused(client.post(SAVE_EXAM, content=huge, headers={"content-type": "application/json"}), 1006)
    assert nothing_written(runtime)


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("GET", SAVE_EXAM, 4005), ("POST", "/mie/api/mie/noSuchTransaction", 4004), ("GET", "/", 4004)],
)
def test_unknown_paths_and_methods_answer_in_the_envelope(client: TestClient, method: str, path: str, code: int) -> None:
    answer = client.request(method, path)
    assert_refused(answer, code)
    if code == 4005:  # RFC 9110 §15.5.6: a 405 names the methods the resource has (schemathesis ST204)
        assert answer.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("path", "example_path"),
    [
        ("/mie/api/mie/queryExamRpotImgIndxListFHospital", "/mie/api/mie/queryExamRpotImgIndxListFHospital"),
        ("/mie/api/mie/queryImgCaheFIndex", "/mie/api/mie/queryImgCaheFIndex"),
    ],
)
def test_queries_are_routed_and_an_unregistered_caller_is_refused(client: TestClient, path: str, example_path: str) -> None:
    from tests.conftest import document_example

    example = document_example(example_path)  # the document's caller 123456789012 is not registered here
    assert_refused(client.post(path, json=example), 2001)


def test_an_unexpected_failure_is_a_clean_500(client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from mie.service import exams

    def broken(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exams, "_save_record", broken)
    answer = client.post(SAVE_EXAM, json=exam_message(exam_record()))
    body = assert_refused(answer, 5000)
    assert "disk on fire" not in answer.text and body["data"] is None
    assert nothing_written(runtime)


def test_logs_hold_no_key_and_no_identity_number(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    record = exam_record()
    client.post(SAVE_EXAM, json=exam_message(record))
    client.post(SAVE_EXAM, json=exam_message(record, key="not-the-key"))
    client.post(SAVE_EXAM, json=exam_message(exam_record(certno="110101197804050046")))
    logged = "\n".join(entry.getMessage() for entry in caplog.records)
    assert logged, "the processor logged nothing"
    assert KEY not in logged and "not-the-key" not in logged
    assert "110101197804050038" not in logged and "110101197804050046" not in logged
