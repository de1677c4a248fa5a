"""mie.client: its messages pass mie's own validator, its msgids are fresh and of the spec's format, and the whole
chain (save -> query -> register -> upload -> list -> fetch -> delete) runs through it against a real server:
in-process on SQLite and PostgreSQL, and `mie serve` in a subprocess over a socket."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from generated.models import ExamRpotImgInfo, FileSnDTO, RecordResultsResponse, ResponseCode, SuccFlag
from mie.client import (
    DICOM_MEDIA_TYPE,
    PDF_MEDIA_TYPE,
    SAVE_IMG_FILE,
    SAVE_RPT_FILE,
    InvalidMessage,
    Messages,
    MieClient,
    MsgidSequence,
    Refused,
    _decode_file_content,
    route,
    wire,
)
from mie.contract import current
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY, exam_record
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.test_cli import free_port
from tests.test_crash import start_server

CONTRACT = current()

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FIXED = datetime(2025, 3, 1, 10, 0, 0)


def msgid_pattern() -> re.Pattern[str]:
    return re.compile(CONTRACT.resolved["components"]["schemas"]["SaveExamRpotImgInfoRequest"]["properties"]["msgid"]["pattern"])


def errors_of(schema: dict[str, Any], value: Any) -> list[str]:
    """mie's own validator, as the server runs it: errors and advisories (a warning is a finding too)."""
    outcome = CONTRACT.validator_of(schema).validate(value)
    return [str(finding) for finding in [*outcome.errors, *outcome.advisories]]


# --- messages, no network ----------------------------------------------------------------------------------


def test_every_json_message_passes_mies_own_validator() -> None:
    messages = Messages(INSTITUTION, KEY)
    record = exam_record()
    built = [
        messages.save_exams([record]),
        messages.register_images(
            [
                {
                    "hiImgIndx": record["hiImgIndx"],
                    "studyUid": record["studyUid"],
                    "accessionNumber": "114649960",
                    "imageTotalNum": 3,
                }
            ]
        ),
        messages.delete_exams([record["hiImgIndx"]]),
        messages.query_index({"psnCertType": "111", "certno": record["certno"], "begntime": "2024-01-01"}),
        messages.list_images(record["hiImgIndx"]),
        messages.fetch_image(record["hiImgIndx"], {"examUuid": "1.2", "snUuid": "1.2.3", "instUuid": "1.2.3.4"}),
    ]
    pattern = msgid_pattern()
    for message in built:
        body = wire(message)
        assert errors_of(CONTRACT.transaction(body["infno"]).body_schema, body) == [], body["infno"]
        assert pattern.fullmatch(body["msgid"]) and body["msgid"].startswith(INSTITUTION)
        assert datetime.strptime(body["infTime"], "%Y-%m-%d %H:%M:%S")
        assert body["key"] == KEY
    assert len({wire(message)["msgid"] for message in built}) == len(built)


def test_the_wire_has_the_specs_names_and_no_absent_field() -> None:
    body = wire(Messages(INSTITUTION, KEY).save_exams([exam_record(examWay=None, age=35)]))
    sent = body["input"][0]
    assert "examWay" not in sent and "psnName" in sent and "setlInfoList" in sent
    assert not any(value is None for value in sent.values())
    assert set(sent) <= set(CONTRACT.resolved["components"]["schemas"]["ExamRpotImgInfo"]["properties"])
    assert set(body) == {"infno", "msgid", "infTime", "infCode", "key", "input"}
    query = wire(Messages(INSTITUTION).query_index({"psnCertType": "111", "certno": "110101197804050041"}))
    assert set(query) == {"infno", "msgid", "infTime", "fixmedinsCode", "input"}  # no key: ERRATA E-QUERY-KEY
    assert query["input"] == {"psnCertType": "111", "certno": "110101197804050041"}


def test_a_record_the_spec_refuses_is_refused_before_it_is_sent() -> None:
    """In the spec's terms (code, Chinese name, 序号, in Chinese, as the server would answer), not pydantic's
    English ValidationError; and nothing goes out."""
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    client = MieClient("http://processor", INSTITUTION, KEY, http=httpx.Client(transport=transport, base_url="http://processor"))
    missing = exam_record()
    del missing["psnName"]
    with pytest.raises(InvalidMessage) as refused:
        client.save_exams([exam_record(), exam_record(examDate="2023/04/02", gend="Q"), missing])
    assert sorted(refused.value.problems) == [
        "input[1].examDate(检查日期,#12): '2023/04/02' 不符合格式 yyyy-MM-dd",
        "input[1].gend(性别,#5): 'Q' 不在字典 gend 中",
    ]  # the first record refused stops the message: the third is not reached
    assert str(refused.value).startswith("ExamRpotImgInfo 不符合接口规范, 未发送: input[1].")
    assert not isinstance(refused.value, ValidationError) and isinstance(refused.value, ValueError)
    with pytest.raises(InvalidMessage, match=r"input\[0\]\.psnName\(人员姓名,#2\): 必填项缺失"):
        client.save_exams([missing])
    with pytest.raises(InvalidMessage, match=r"input\.imgFileSn\.snUuid\(序列 UID,FileSnDTO#2\): 必填项缺失"):
        client.fetch_image(exam_record()["hiImgIndx"], {"examUuid": "1.2.3", "instUuid": "1.2.3.4"})
    assert sent == []
    with pytest.raises(ValueError, match="key"):
        Messages(INSTITUTION).save_exams([exam_record()])  # §2.1-§2.5 need the key


def test_an_answer_prints_the_specs_codes() -> None:
    """What a program printing an answer shows: the spec's values, not the generator's member names."""
    answer = RecordResultsResponse.model_validate(
        {"code": 0, "type": "success", "message": "成功", "data": [{"hiImgIndx": "x", "succFlag": "1", "message": "保存成功"}]}
    )
    shown = f"{answer!r} {answer} {answer.data[0]!r}"  # type: ignore[index]
    assert "field_1_1" not in shown and "SuccFlag" not in shown and "ResponseCode" not in shown
    assert "succ_flag='1'" in shown and "code=0" in shown
    assert f"{SuccFlag.field_1_1} {ResponseCode.success}" == "1 0" and repr(SuccFlag.field_1) == "'-1'"


def test_upload_headers_and_fields_pass_the_specs_parameters(tmp_path: Path) -> None:
    record = exam_record()
    file = tmp_path / "one.dcm"
    file.write_bytes(part10_bytes(make_instance(record["studyUid"])))
    messages = Messages(INSTITUTION, KEY)
    image = messages.upload_image(
        file, hi_img_indx=record["hiImgIndx"], study_uid=record["studyUid"], accession_number="114649960", image_total_num=1
    )
    report = messages.upload_report(PDF, hi_img_indx=record["hiImgIndx"], study_uid=record["studyUid"], rpot_no="R1")
    spec = CONTRACT.resolved
    for form, infno, schema_name, media in (
        (image, SAVE_IMG_FILE, "SaveImgFileForm", DICOM_MEDIA_TYPE),
        (report, SAVE_RPT_FILE, "SaveRptFileForm", PDF_MEDIA_TYPE),
    ):
        operation = spec["paths"][form.path]["post"]
        assert form.path == route(infno) and CONTRACT.transaction(infno).envelope_in_headers
        headers = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "header"}
        assert set(form.headers) == set(headers)
        assert errors_of({"type": "object", "properties": headers, "required": list(headers)}, form.headers) == []
        assert msgid_pattern().fullmatch(form.headers["msgid"]) and form.headers["infno"] == infno
        multipart = operation["requestBody"]["content"]["multipart/form-data"]
        assert multipart["encoding"][form.file_field]["contentType"] == media == form.media_type
        # the form's text fields as the spec has them; the file part is the only one not among them
        outcome = CONTRACT.validator(schema_name).validate(form.fields)
        assert [error.code for error in outcome.errors] == [form.file_field]
    assert image.fields["fileMd5"] == md5(file.read_bytes()).upper() and image.file_name == "one.dcm"
    assert report.fields["fileMd5"] == md5(PDF).upper()


def test_msgids_are_fresh_even_past_ten_thousand_in_one_second() -> None:
    sequence = MsgidSequence(start=9998, clock=lambda: FIXED)
    given = [sequence.next(INSTITUTION) for _ in range(25_000)]
    assert len(set(given)) == len(given)
    pattern = msgid_pattern()
    assert all(pattern.fullmatch(msgid) for msgid in given)
    assert given[0] == f"{INSTITUTION}202503011000009998" and given[2] == f"{INSTITUTION}202503011000000000"
    assert given[10_000][12:26] == "20250301100001"  # the 10,001st of that second takes the next one
    # the document's 10-character code (§2.6 example): still 12 characters of the pattern
    assert pattern.fullmatch(sequence.next("H371464507")) and sequence.next("h-3714").startswith("H03714000000")


def test_processes_with_their_own_residue_never_share_a_msgid() -> None:
    first, second = (MsgidSequence(start=i, step=2, clock=lambda: FIXED) for i in (0, 1))
    with pytest.raises(ValueError):
        MsgidSequence(step=3)  # residues of 3 cross each other when the serial goes round 10,000
    a = {first.next(INSTITUTION) for _ in range(12_000)}
    b = {second.next(INSTITUTION) for _ in range(12_000)}
    assert len(a) == len(b) == 12_000 and not a & b


def test_the_client_imports_nothing_of_the_servers_side() -> None:
    """mie.client is what a vendor's program imports: generated/ and mie.contract, none of the processor."""
    script = (
        "import sys, mie.client; "
        "print(sorted(m for m in sys.modules if m.startswith(('mie.', 'handlers')) and not m.startswith('mie.contract')))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded.replace("'", '"')) == ["mie.client"]


@pytest.mark.parametrize("piece", [1, 3, 4, 5, 7, 64, 10_000])
def test_streamed_file_content_is_decoded_whatever_the_pieces(piece: int) -> None:
    data = bytes(range(256)) * 40 + b"\xff\xfe"
    encoded = base64.b64encode(data).decode().replace("/", "\\/")  # a JSON encoder may escape the solidus
    answer = f'{{"code":0,"type":"success","message":"成功","data":{{"hiImgIndx":"X","fileContent":"{encoded}"}}}}'.encode()
    out = io.BytesIO()
    rest, had_file = _decode_file_content(iter([answer[i : i + piece] for i in range(0, len(answer), piece)]), out)
    assert had_file and out.getvalue() == data
    assert json.loads(rest)["data"] == {"hiImgIndx": "X", "fileContent": None}
    for broken in (b'"fileContent":"*', b'"fileContent":"A'):  # a character outside base64; a length not a multiple of 4
        with pytest.raises(ValueError):
            _decode_file_content(iter([answer.replace(b'"fileContent":"', broken)]), io.BytesIO())
    without = b'{"code":0,"type":"success","message":"m","data":{"hiImgIndx":"X","fileContent":null}}'
    assert _decode_file_content(iter([without[:10], without[10:]]), out) == (without, False)


# --- the chain against a server ------------------------------------------------------------------------------


def upload_form(index: str, study: str) -> dict[str, Any]:
    return {"hi_img_indx": index, "study_uid": study, "accession_number": "114649960", "image_total_num": 1}


def run_chain(client: MieClient, other: MieClient, tmp_path: Path) -> None:
    """§2.1 save -> §2.6 finds it -> §2.3 register -> §2.2 upload (a file on disk) -> §2.4 report -> §2.7 lists it
    -> §2.8 the same bytes (in memory, and streamed to a file) -> §2.5 delete -> §2.6 finds it no more."""
    record = ExamRpotImgInfo.model_validate(exam_record(psnName="张三", examDate="2024-11-22"))
    index, study = record.hi_img_indx, record.study_uid

    # the client refuses to build a record the spec refuses; a test breaks one after building, then sends it
    message = wire(client.messages.save_exams([record, record]))
    message["input"][1]["hiImgIndx"] = "not an index"
    saved = client.send(message, RecordResultsResponse)
    assert saved.code is ResponseCode.some_records_refused
    assert [result.succ_flag for result in saved.data or []] == [SuccFlag.field_1_1, SuccFlag.field_1]
    refusal = (saved.data or [])[1]
    assert refusal.errors and refusal.errors[0].code == "hiImgIndx" and refusal.errors[0].seq == "#1"

    person = {"psnCertType": record.psn_cert_type, "certno": record.certno, "psnName": "张三"}
    found = client.query_index(person)
    assert found.code is ResponseCode.success and [item.hi_img_indx for item in found.data or []] == [index]
    assert (found.data or [])[0].certno == f"{record.certno[:6]}*****{record.certno[-4:]}"

    assert (
        client.register_images([{"hiImgIndx": index, "studyUid": study, "accessionNumber": "114649960", "imageTotalNum": 1}]).code
        == 0
    )
    not_theirs = other.delete_exams([index])  # another institution may not delete it: refused record by record
    assert not_theirs.code is ResponseCode.all_records_refused and (not_theirs.data or [])[0].succ_flag is SuccFlag.field_1
    with pytest.raises(Refused) as refused:
        MieClient(institution=INSTITUTION, key="a wrong key", http=client.http).delete_exams([index])
    assert refused.value.status_code == 401 and refused.value.answer and refused.value.answer.code is ResponseCode.unauthorized

    dataset = make_instance(study)
    file = tmp_path / "image.dcm"
    file.write_bytes(part10_bytes(dataset))
    uploaded = client.upload_image(file, **upload_form(index, study))
    assert uploaded.code is ResponseCode.success and uploaded.hi_img_indx == index
    with pytest.raises(Refused) as corrupted:  # the MD5 of another file: refused, nothing stored
        client.upload_image(io.BytesIO(file.read_bytes()), **upload_form(index, study), file_md5=md5(PDF))
    assert corrupted.value.answer and corrupted.value.answer.code is ResponseCode.file_md5_mismatch
    report = client.upload_report(io.BytesIO(PDF), hi_img_indx=index, study_uid=study, rpot_no=record.rpot_no)
    assert report.code is ResponseCode.success

    listing = client.list_images(index)
    assert listing.data and listing.data.img_file_sn_list == [
        FileSnDTO(exam_uuid=study, sn_uuid=str(dataset.SeriesInstanceUID), inst_uuid=str(dataset.SOPInstanceUID))
    ]
    file_sn = listing.data.img_file_sn_list[0]
    fetched = client.fetch_image(index, file_sn)
    assert fetched.data and fetched.data.file_content == file.read_bytes()
    into = tmp_path / "fetched.dcm"
    with into.open("wb") as out:
        streamed = client.fetch_image(index, file_sn, into=out)
    assert streamed.code is ResponseCode.success and streamed.data and streamed.data.file_content is None
    assert into.read_bytes() == file.read_bytes()

    deleted = client.delete_exams([index])
    assert deleted.code is ResponseCode.success and (deleted.data or [])[0].succ_flag is SuccFlag.field_1_1
    assert client.query_index(person).data == []
    with pytest.raises(Refused) as gone:
        client.list_images(index)
    assert gone.value.answer and gone.value.answer.code is ResponseCode.exam_not_found


def test_the_chain_in_process(client: TestClient, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL (the `client` fixture's database)."""
    run_chain(
        MieClient(institution=INSTITUTION, key=KEY, http=client),
        MieClient(institution=OTHER_INSTITUTION, key=OTHER_KEY, http=client),
        tmp_path,
    )


def test_the_chain_against_mie_serve(tmp_path: Path) -> None:
    data_dir, database_url = tmp_path / "data", f"sqlite:///{tmp_path / 'mie.sqlite3'}"
    for code, key in ((INSTITUTION, KEY), (OTHER_INSTITUTION, OTHER_KEY)):
        command = [sys.executable, "-m", "mie.cli", "institution", "add", code, "--key", key]
        subprocess.run([*command, "--data-dir", str(data_dir), "--database-url", database_url], check=True, capture_output=True)
    port = free_port()
    server = start_server(data_dir, database_url, port, 0)
    try:
        with (
            MieClient(f"http://127.0.0.1:{port}", INSTITUTION, KEY) as client,
            MieClient(f"http://127.0.0.1:{port}", OTHER_INSTITUTION, OTHER_KEY) as other,
        ):
            run_chain(client, other, tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=60)
