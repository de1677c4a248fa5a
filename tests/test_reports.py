"""saveRptFile (§2.4): a checked PDF attached to its exam and report number, earlier versions kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.store.tables import Report
from tests.conftest import (
    INSTITUTION,
    KEY,
    OTHER_INSTITUTION,
    OTHER_KEY,
    SAVE_EXAM,
    delete_message,
    exam_message,
    exam_record,
    new_msgid,
)
from tests.dicom_files import md5

SAVE_RPT_FILE = "/mie/api/mie/saveRptFile"
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def headers(institution: str = INSTITUTION, key: str = KEY) -> dict[str, str]:
    return {
        "infno": "saveRptFile",
        "msgid": new_msgid(institution),
        "infTime": "2025-03-03 01:00:00",
        "infCode": institution,
        "key": key,
    }


@pytest.fixture
def exam(client: TestClient) -> dict[str, Any]:
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    return record


def upload(
    client: TestClient, exam: dict[str, Any], data: bytes = PDF, head: dict[str, str] | None = None, **changes: str
) -> Any:
    form = {"hiImgIdx": exam["hiImgIndx"], "studyUId": exam["studyUid"], "rpotNo": "R123456", "fileMd5": md5(data)}
    form.update(changes)
    return client.post(
        SAVE_RPT_FILE, headers=head or headers(), data=form, files={"examRpotPdf1": ("report.pdf", data, "application/pdf")}
    )


def reports(runtime: Runtime) -> list[Report]:
    with Session(runtime.database.engine) as session:
        return list(session.exec(select(Report).order_by(Report.version)))


def files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.data_dir / "reports"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_pdf_is_stored_and_a_new_upload_keeps_the_earlier(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    body = upload(client, exam).json()
    # The form sends the example's spellings hiImgIdx and studyUId: read as aliases, and said (as §2.1 says them)
    message = "成功; 已按 hiImgIndx 读取字段 hiImgIdx; 已按 studyUid 读取字段 studyUId"
    assert body == {"code": 0, "hiImgIndx": exam["hiImgIndx"], "hiImgIdx": exam["hiImgIndx"], "message": message}
    second = PDF.replace(b"Catalog", b"Catalog /Lang (zh-CN)")
    body = upload(client, exam, second).json()
    assert body["code"] == 0 and "第 2 版" in body["message"]
    rows = reports(runtime)
    assert [(r.rpot_no, r.version) for r in rows] == [("R123456", 1), ("R123456", 2)]
    assert [(runtime.settings.data_dir / r.path).read_bytes() for r in rows] == [PDF, second]
    assert len(files(runtime)) == 2


@pytest.mark.parametrize(
    ("case", "code"),
    [("md5", 3003), ("not-pdf", 3004), ("unknown-index", 3006), ("other-institution", 3006), ("no-file", 1003)],
)
def test_refusals_store_nothing(client: TestClient, runtime: Runtime, exam: dict[str, Any], case: str, code: int) -> None:
    if case == "md5":
        answer = upload(client, exam, fileMd5=md5(PDF + b" "))
    elif case == "not-pdf":
        data = b"DICM" + PDF
        answer = upload(client, exam, data)
    elif case == "unknown-index":
        answer = upload(client, exam, hiImgIdx=exam_record()["hiImgIndx"])
    elif case == "other-institution":
        answer = upload(client, exam, head=headers(OTHER_INSTITUTION, OTHER_KEY))
    else:
        form = {"hiImgIdx": exam["hiImgIndx"], "studyUid": exam["studyUid"], "rpotNo": "R1", "fileMd5": md5(PDF)}
        answer = client.post(SAVE_RPT_FILE, headers=headers(), data=form, files={"other": ("x.txt", b"x")})
    assert answer.json()["code"] == code, answer.json()
    assert reports(runtime) == [] and files(runtime) == []
    assert list((runtime.settings.data_dir / "tmp").glob("*")) == []


def test_deleting_the_exam_deletes_its_reports(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    upload(client, exam)
    upload(client, exam, PDF + b"\n")
    message = delete_message(exam["hiImgIndx"])
    assert client.post("/mie/api/mie/deleteExamRpotImgIdxInfo", json=message).json()["code"] == 0
    assert reports(runtime) == [] and files(runtime) == []


def test_several_report_numbers_are_saved_with_a_warning(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    """E-RPOTNO-SEVERAL: §2.4 uploads one report's PDF; a comma-joined rpotNo is saved and named as a warning."""
    body = upload(client, exam, rpotNo="R1,R2").json()
    assert body["code"] == 0 and "警告: rpotNo(报告编号,#3): 含英文逗号" in body["message"]
    assert [r.rpot_no for r in reports(runtime)] == ["R1,R2"]


def test_strict_refuses_the_warning(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    """E-SEVERITY: under --strict a warning is an error, and nothing is stored."""
    runtime.contract = runtime.contract.strictly(True)  # what `mie serve --strict` serves
    try:
        body = upload(client, exam, rpotNo="R1,R2").json()
    finally:
        runtime.contract = runtime.contract.strictly(False)
    assert body["code"] != 0 and "rpotNo(报告编号,#3): 含英文逗号" in body["message"] and "--strict" in body["message"]
    assert reports(runtime) == []
    from generated.models import FieldError

    errors = [FieldError.model_validate(item) for item in body["data"]]  # the spec's FieldError, rule and severity
    assert [(e.code, e.rule.value, e.severity and e.severity.value) for e in errors] == [("rpotNo", "severalReports", "error")]
