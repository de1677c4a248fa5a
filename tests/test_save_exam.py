"""saveExamRpotImgInfo (§2.1) through the HTTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.service import exams
from mie.store.tables import AuditEvent, ExamRecord, ExamRecordHistory, Message, SetlInfo
from tests.conftest import (
    OTHER_INSTITUTION,
    OTHER_KEY,
    SAVE_EXAM,
    document_example,
    exam_message,
    exam_record,
    new_index,
)
from tests.spec_cases import breakages


def count(runtime: Runtime, table: type) -> int:
    with Session(runtime.database.engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_the_document_example_is_saved_with_its_settlements(client: TestClient, runtime: Runtime) -> None:
    message = document_example()
    answer = client.post(SAVE_EXAM, json=message)
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == 0 and body["type"] == "success"
    [result] = body["data"]
    index = message["input"][0]["hiImgIndx"]
    assert result["hiImgIndx"] == index and result["succFlag"] == "1"
    assert result["message"].startswith("保存数据成功")
    row = exams.exam_record(runtime.database, index)
    assert row is not None
    assert row.institution_code == "H11010202321"
    assert row.record["psnName"] == "李丽" and row.record["examCharge"] == "240.00"
    assert row.study_uid == message["input"][0]["studyUid"]
    with Session(runtime.database.engine) as session:
        settlements = session.exec(select(SetlInfo).where(SetlInfo.hi_img_indx == index).order_by(SetlInfo.position)).all()
    assert [(s.setl_id, s.med_list_codg, s.feedetl_sn) for s in settlements] == [
        ("1234567", "1234567", "1234567"),
        ("1234567", "7654321", "7654321"),
    ]


def test_fields_no_table_has_are_ignored_and_said(client: TestClient, runtime: Runtime) -> None:
    record = exam_record(hospitalCode="12100000400010558Y", patientId="056430")
    [result] = client.post(SAVE_EXAM, json=exam_message(record)).json()["data"]
    assert result["succFlag"] == "1"
    assert "hospitalCode" in result["message"] and "patientId" in result["message"]
    row = exams.exam_record(runtime.database, record["hiImgIndx"])
    assert row is not None and "hospitalCode" not in row.record


def test_every_broken_field_is_refused_alone_and_the_good_record_is_saved(client: TestClient, runtime: Runtime) -> None:
    """One message: one record per breakage the spec implies, plus one good record."""
    base = exam_record()
    cases = list(breakages("ExamRpotImgInfo"))
    records = []
    for case in cases:
        record = dict(base, hiImgIndx=new_index(base))
        records.append(case.apply(record))
    good = exam_record()
    records.append(good)

    answer = client.post(SAVE_EXAM, json=exam_message(*records))
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == 3001
    results = body["data"]
    assert len(results) == len(records)
    for case, result in zip(cases, results[:-1], strict=True):
        assert result["succFlag"] == "-1", case.label
        assert case.error_prefix in result["message"], (case.label, result["message"])
        assert any(error["rule"] == case.rule and error["code"] == case.code for error in result["errors"]), case.label
    assert results[-1]["succFlag"] == "1"
    assert count(runtime, ExamRecord) == 1
    assert exams.exam_record(runtime.database, good["hiImgIndx"]) is not None
    assert count(runtime, SetlInfo) == len(good["setlInfoList"])


def test_the_message_names_field_code_chinese_name_and_seq(client: TestClient) -> None:
    record = exam_record(examPart="XYZ")
    [result] = client.post(SAVE_EXAM, json=exam_message(record)).json()["data"]
    assert result["succFlag"] == "-1"
    assert "examPart(检查部位代码,#13): 'XYZ' 不在字典 examPart 中" in result["message"]


def test_all_records_refused_is_its_own_code(client: TestClient, runtime: Runtime) -> None:
    body = client.post(SAVE_EXAM, json=exam_message(exam_record(gend="7"), exam_record(hospLv="99"))).json()
    assert body["code"] == 3002 and [r["succFlag"] for r in body["data"]] == ["-1", "-1"]
    assert count(runtime, ExamRecord) == 0


def test_reupload_updates_and_keeps_the_earlier_version(client: TestClient, runtime: Runtime) -> None:
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    changed = dict(record, diagRslt="复查: 副鼻窦积液已吸收。", setlInfoList=record["setlInfoList"][:1])
    [result] = client.post(SAVE_EXAM, json=exam_message(changed)).json()["data"]
    assert result["succFlag"] == "1" and "第 2 版" in result["message"]
    row = exams.exam_record(runtime.database, record["hiImgIndx"])
    assert row is not None and row.version == 2 and row.record["diagRslt"] == "复查: 副鼻窦积液已吸收。"
    [history] = exams.exam_history(runtime.database, record["hiImgIndx"])
    assert history.version == 1 and history.record["diagRslt"] == record["diagRslt"]
    assert count(runtime, SetlInfo) == 1


def test_another_institution_cannot_overwrite_a_record(client: TestClient, runtime: Runtime) -> None:
    record = exam_record()
    client.post(SAVE_EXAM, json=exam_message(record))
    hijack = dict(record, psnName="冒名")
    body = client.post(SAVE_EXAM, json=exam_message(hijack, institution=OTHER_INSTITUTION, key=OTHER_KEY)).json()
    assert body["data"][0]["succFlag"] == "-1" and "其他机构" in body["data"][0]["message"]
    row = exams.exam_record(runtime.database, record["hiImgIndx"])
    assert row is not None and row.record["psnName"] == "李丽" and row.version == 1


def test_index_must_match_the_persons_certificate(client: TestClient, runtime: Runtime) -> None:
    record = exam_record()
    record["certno"] = "110101197804050046"
    [result] = client.post(SAVE_EXAM, json=exam_message(record)).json()["data"]
    assert result["succFlag"] == "-1" and "hiImgIndx(医保影像云索引编码,#1)" in result["message"]
    assert "110101197804050046" not in result["message"]
    assert count(runtime, ExamRecord) == 0


def test_a_replayed_message_gets_the_first_answer_and_writes_nothing_twice(client: TestClient, runtime: Runtime) -> None:
    message = exam_message(exam_record())
    first = client.post(SAVE_EXAM, json=message)
    again = client.post(SAVE_EXAM, json=message)
    assert again.status_code == first.status_code and again.json() == first.json()
    assert count(runtime, ExamRecord) == 1 and count(runtime, ExamRecordHistory) == 0 and count(runtime, Message) == 1
    assert count(runtime, AuditEvent) == 0  # a first save is on record in its message row


def test_the_same_msgid_with_another_body_is_refused(client: TestClient, runtime: Runtime) -> None:
    message = exam_message(exam_record())
    client.post(SAVE_EXAM, json=message)
    other = dict(message, input=[exam_record()])
    answer = client.post(SAVE_EXAM, json=other)
    assert answer.status_code == 409 and answer.json()["code"] == 1005
    assert count(runtime, ExamRecord) == 1
