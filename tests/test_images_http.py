"""Images over HTTP: saveImgInfo (§2.3) registers a study, saveImgFile (§2.2) streams one DICOM file in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydicom
import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from mie.runtime import Runtime
from mie.store.tables import Instance, Study
from tests.conftest import (
    INSTITUTION,
    KEY,
    OTHER_INSTITUTION,
    OTHER_KEY,
    SAVE_EXAM,
    delete_message,
    exam_message,
    exam_record,
    img_info_message,
    new_msgid,
)
from tests.dicom_files import ORDER_COLUMNS, make_instance, md5, order_columns, part10_bytes, with_numbers

SAVE_IMG_FILE = "/mie/api/mie/saveImgFile"
SAVE_IMG_INFO = "/mie/api/mie/saveImgInfo"


def headers(institution: str = INSTITUTION, key: str = KEY, **changes: str) -> dict[str, str]:
    values = {
        "infno": "saveImgFile",
        "msgid": new_msgid(institution),
        "infTime": "2025-03-03 01:00:00",
        "infCode": institution,
        "key": key,
    }
    values.update(changes)
    return values


@pytest.fixture
def exam(client: TestClient) -> dict[str, Any]:
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    return record


def upload(
    client: TestClient, exam: dict[str, Any], data: bytes, *, head: dict[str, str] | None = None, **form_changes: str
) -> Any:
    form = {
        "hiImgIdx": exam["hiImgIndx"],
        "studyUid": exam["studyUid"],
        "accessionNumber": "114649960",
        "fileMd5": md5(data).upper(),
        "imageTotalNum": "2",
    }
    form.update(form_changes)
    return client.post(
        SAVE_IMG_FILE, headers=head or headers(), data=form, files={"dicom": ("image.dcm", data, "application/dicom")}
    )


def stored(runtime: Runtime) -> tuple[int, list[Path]]:
    with Session(runtime.database.engine) as session:
        rows = session.exec(select(func.count()).select_from(Instance)).one()
    files = (
        [p for p in (runtime.settings.data_dir / "dicom").rglob("*") if p.is_file()]
        if (runtime.settings.data_dir / "dicom").exists()
        else []
    )
    return rows, files


def test_a_file_is_stored_byte_for_byte_with_its_row(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    ds = make_instance(exam["studyUid"])
    data = part10_bytes(ds)
    answer = upload(client, exam, data)
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == 0, body
    assert body["hiImgIndx"] == body["hiImgIdx"] == exam["hiImgIndx"]
    assert "1/2" in body["message"]
    rows, files = stored(runtime)
    assert rows == 1 and len(files) == 1 and files[0].read_bytes() == data
    with Session(runtime.database.engine) as session:
        instance = session.exec(select(Instance)).one()
        study = session.exec(select(Study)).one()
    assert instance.sop_instance_uid == ds.SOPInstanceUID and instance.md5 == md5(data) and instance.size == len(data)
    assert instance.transfer_syntax_uid == ds.file_meta.TransferSyntaxUID and instance.sop_class_uid == ds.SOPClassUID
    assert instance.source == "http" and instance.hi_img_indx == exam["hiImgIndx"]
    assert (study.study_uid, study.image_total_num) == (exam["studyUid"], 2)


def test_the_row_keeps_series_and_instance_numbers_frames_and_labels(
    client: TestClient, runtime: Runtime, exam: dict[str, Any]
) -> None:
    """Read with pydicom on the §2.2 path (the labels in the file's character set)."""
    study = exam["studyUid"]
    datasets = [
        with_numbers(make_instance(study, charset="GB18030"), 7, 12, description="胸部 平扫"),
        with_numbers(make_instance(study, kind="jpeg2000"), 3, 1),
        make_instance(study, kind="rle"),
    ]
    del datasets[2].InstanceNumber
    for ds in datasets:
        assert upload(client, exam, part10_bytes(ds), imageTotalNum="3").json()["code"] == 0
    with Session(runtime.database.engine) as session:
        rows = {row.sop_instance_uid: row for row in session.exec(select(Instance))}
    for ds in datasets:
        row = rows[str(ds.SOPInstanceUID)]
        assert {name: getattr(row, name) for name in ORDER_COLUMNS} == order_columns(ds)
    assert rows[str(datasets[0].SOPInstanceUID)].series_description == "胸部 平扫"
    assert rows[str(datasets[2].SOPInstanceUID)].instance_number is None


def test_the_same_instance_twice_is_stored_once(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    data = part10_bytes(make_instance(exam["studyUid"]))
    assert upload(client, exam, data).json()["code"] == 0
    again = upload(client, exam, data).json()
    assert again["code"] == 0 and "此前已存储" in again["message"]
    rows, files = stored(runtime)
    assert rows == 1 and len(files) == 1


def test_chinese_text_in_gb18030_is_read(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    ds = make_instance(exam["studyUid"], accession="影像114649960", charset="GB18030", patient_name="李丽")
    data = part10_bytes(ds)
    assert "李丽".encode("gb18030") in data
    answer = upload(client, exam, data, accessionNumber="影像114649960")
    assert answer.json()["code"] == 0, answer.json()
    assert pydicom.dcmread(next(iter(stored(runtime)[1]))).PatientName == "李丽"


def test_the_header_aliases_of_the_document_example(client: TestClient, exam: dict[str, Any]) -> None:
    head = headers()
    head["info"] = head.pop("infno")
    head["fixmedinsCode"] = head.pop("infCode")
    data = part10_bytes(make_instance(exam["studyUid"]))
    assert upload(client, exam, data, head=head).json()["code"] == 0


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("md5", 3003),
        ("not-dicom", 3004),
        ("study", 3005),
        ("accession", 3005),
        ("unknown-index", 3006),
        ("other-institution", 3006),
        ("bad-uid", 3004),
        ("missing-field", 1003),
        ("wrong-key", 2001),
        ("missing-header", 1003),
    ],
)
def test_refusals_store_nothing(client: TestClient, runtime: Runtime, exam: dict[str, Any], case: str, code: int) -> None:
    ds = make_instance(exam["studyUid"])
    data = part10_bytes(ds)
    form: dict[str, str] = {}
    head = headers()
    if case == "md5":
        form["fileMd5"] = md5(data + b"x")
    elif case == "not-dicom":
        data = b"%PDF-1.4 not an image" * 10
        form["fileMd5"] = md5(data)
    elif case == "study":
        form["studyUid"] = "1.2.840.99999.1"  # a valid UID (at most 64 characters, E-UID), not the file's
    elif case == "accession":
        form["accessionNumber"] = "999,888"
    elif case == "unknown-index":
        form["hiImgIdx"] = exam_record()["hiImgIndx"]
    elif case == "other-institution":
        head = headers(OTHER_INSTITUTION, OTHER_KEY)
    elif case == "bad-uid":
        ds.SOPInstanceUID = "1.2.840.../../../etc/passwd"
        data = part10_bytes(ds)
        form["fileMd5"] = md5(data)
    elif case == "missing-field":
        form["studyUid"] = ""
    elif case == "wrong-key":
        head = headers(key="nope")
    elif case == "missing-header":
        del head["msgid"]
    answer = upload(client, exam, data, head=head, **form)
    assert answer.json()["code"] == code, answer.json()
    assert answer.status_code >= 400
    rows, files = stored(runtime)
    assert rows == 0 and files == []
    assert list((runtime.settings.data_dir / "tmp").glob("*")) == []


def test_a_file_over_the_limit_is_refused(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    runtime.settings = type(runtime.settings)(data_dir=runtime.settings.data_dir, max_file_bytes=4096)
    data = part10_bytes(make_instance(exam["studyUid"]))
    assert len(data) > 4096
    answer = upload(client, exam, data)
    assert answer.status_code == 413 and answer.json()["code"] == 1006
    assert stored(runtime) == (0, [])
    assert list((runtime.settings.data_dir / "tmp").glob("*")) == []


def test_save_img_info_registers_the_study(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    message = img_info_message(exam, accession="114649960,114649961", total=1000)
    body = client.post(SAVE_IMG_INFO, json=message).json()
    assert body["code"] == 0 and body["data"][0]["succFlag"] == "1" and "0/1000" in body["data"][0]["message"]
    with Session(runtime.database.engine) as session:
        study = session.exec(select(Study)).one()
    assert (study.hi_img_indx, study.accession_numbers, study.image_total_num) == (exam["hiImgIndx"], "114649960,114649961", 1000)


def test_save_img_info_for_an_unknown_or_foreign_index_is_refused(
    client: TestClient, runtime: Runtime, exam: dict[str, Any]
) -> None:
    message = img_info_message(exam, accession="1", institution=OTHER_INSTITUTION, key=OTHER_KEY)
    body = client.post(SAVE_IMG_INFO, json=message).json()
    assert body["code"] == 3002 and "不属于本机构" in body["data"][0]["message"]
    with Session(runtime.database.engine) as session:
        assert session.exec(select(func.count()).select_from(Study)).one() == 0


def test_deleting_the_exam_deletes_its_images(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    for _ in range(2):
        assert upload(client, exam, part10_bytes(make_instance(exam["studyUid"]))).json()["code"] == 0
    assert stored(runtime)[0] == 2
    message = delete_message(exam["hiImgIndx"])
    assert client.post("/mie/api/mie/deleteExamRpotImgIdxInfo", json=message).json()["code"] == 0
    assert stored(runtime) == (0, [])
    with Session(runtime.database.engine) as session:
        assert session.exec(select(func.count()).select_from(Study)).one() == 0
    assert not any((runtime.settings.data_dir / "dicom").rglob("*"))


def test_every_broken_field_of_save_img_info_is_refused_alone(client: TestClient, runtime: Runtime, exam: dict[str, Any]) -> None:
    """§2.3's records, one per breakage the spec implies, beside one good record that is still registered."""
    from tests.spec_cases import breakages

    good = img_info_message(exam)["input"][0]
    cases = list(breakages("ImgInfo"))
    message = img_info_message(exam)
    message["input"] = [case.apply(good) for case in cases] + [good]
    body = client.post(SAVE_IMG_INFO, json=message).json()
    assert body["code"] == 3001
    for case, result in zip(cases, body["data"], strict=False):
        assert result["succFlag"] == "-1" and case.error_prefix in result["message"], case.label
    assert body["data"][-1]["succFlag"] == "1"
    with Session(runtime.database.engine) as session:
        assert session.exec(select(func.count()).select_from(Study)).one() == 1
