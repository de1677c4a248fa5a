"""deleteExamRpotImgIdxInfo (§2.5): the caller's own records only, each index answered with its reason."""

from __future__ import annotations

from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from generated.models import RecordResult, RecordResultsResponse, ResponseCode, SuccFlag
from mie.client import MieClient
from mie.runtime import Runtime
from mie.service import exams
from mie.store.tables import AuditEvent, ExamRecordHistory, SetlInfo
from tests.conftest import (
    DELETE_EXAM,
    OTHER_INSTITUTION,
    OTHER_KEY,
    SAVE_EXAM,
    delete_message,
    exam_message,
    exam_record,
)


def test_own_record_is_deleted_with_its_settlements_and_history(sender: MieClient, runtime: Runtime) -> None:
    record = exam_record()
    sender.save_exams([record])
    sender.save_exams([dict(record, psnName="李丽丽")])
    deleted = sender.delete_exams([record["hiImgIndx"]])
    assert deleted.code is ResponseCode.success
    assert deleted.data == [RecordResult(hi_img_indx=record["hiImgIndx"], succ_flag=SuccFlag.field_1_1, message="删除数据成功")]
    assert exams.exam_record(runtime.database, record["hiImgIndx"]) is None
    with Session(runtime.database.engine) as session:
        for table in (SetlInfo, ExamRecordHistory):
            assert session.exec(select(func.count()).select_from(table)).one() == 0
        actions = session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["update", "delete"]


def test_object_items_with_any_index_spelling_are_accepted(client: TestClient, runtime: Runtime) -> None:
    first, second = exam_record(), exam_record()
    client.post(SAVE_EXAM, json=exam_message(first, second))
    body = client.post(
        DELETE_EXAM, json=delete_message({"hilmgIdx": first["hiImgIndx"]}, {"hiImgIndx": second["hiImgIndx"]})
    ).json()
    assert [d["succFlag"] for d in body["data"]] == ["1", "1"]


def test_unknown_other_institutions_and_malformed_are_answered_and_kept(
    client: TestClient, sender: MieClient, runtime: Runtime
) -> None:
    mine, theirs = exam_record(), exam_record()
    sender.save_exams([mine])
    MieClient(institution=OTHER_INSTITUTION, key=OTHER_KEY, http=client).save_exams([theirs])
    unknown = exam_record()["hiImgIndx"]
    # items the typed client would not build (not an index, not a string): the message is made by hand
    body = client.post(
        DELETE_EXAM, json=delete_message(theirs["hiImgIndx"], unknown, "not-an-index", 42, mine["hiImgIndx"])
    ).json()
    assert body["code"] == 3001
    flags = [(d["succFlag"], d["message"]) for d in body["data"]]
    assert flags[0][0] == "-1" and "其他机构" in flags[0][1]
    assert flags[1][0] == "-1" and "索引不存在" in flags[1][1]
    assert flags[2][0] == "-1" and "hiImgIndx(医保影像云索引编码,#1)" in flags[2][1]
    assert flags[3][0] == "-1" and "类型应为字符串" in flags[3][1]
    assert flags[4][0] == "1"
    assert exams.exam_record(runtime.database, theirs["hiImgIndx"]) is not None
    assert exams.exam_record(runtime.database, mine["hiImgIndx"]) is None


def test_a_delete_replayed_answers_the_same(sender: MieClient) -> None:
    record = exam_record()
    sender.save_exams([record])
    message = sender.messages.delete_exams([record["hiImgIndx"]])  # one msgid, sent twice
    first = sender.send(message, RecordResultsResponse)
    assert first.code is ResponseCode.success and sender.send(message, RecordResultsResponse) == first
