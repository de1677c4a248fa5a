"""Every resolution of spec/ERRATA.md, shown. Each test names the erratum it shows."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mie.contract import current
from mie.contract.index import IndexError_
from mie.contract.spec import REPO_ROOT
from mie.runtime import Runtime
from mie.service import exams
from mie.service.envelope import check_envelope
from tests.conftest import (
    DELETE_EXAM,
    INSTITUTION,
    KEY,
    SAVE_EXAM,
    delete_message,
    document_example,
    exam_message,
    exam_record,
    img_info_message,
    new_msgid,
)

CONTRACT = current()

ERRATA = REPO_ROOT / "spec" / "ERRATA.md"
PRINTED_21 = Path(__file__).parent / "data" / "document" / "2.1-request.as-printed.txt"


def erratum_ids() -> list[str]:
    return re.findall(r"^\| (E-[A-Z0-9.-]+) \|", ERRATA.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_every_erratum_has_a_test() -> None:
    cited = "".join(path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py"))
    ids = erratum_ids()
    assert len(ids) == len(set(ids)) and len(ids) > 30
    missing = [erratum for erratum in ids if erratum not in cited]
    assert missing == []


def test_every_erratum_the_spec_cites_exists() -> None:
    cited = set(re.findall(r"x-erratum: (E-[A-Z0-9.-]+)", (REPO_ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8")))
    assert cited and cited <= set(erratum_ids())


def saved(client: TestClient, record: dict[str, Any]) -> dict[str, Any]:
    body = client.post(SAVE_EXAM, json=exam_message(record)).json()
    return body["data"][0]


# --- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["hiImgIdx", "hilmgIdx", "hiImglndx"])
def test_index_aliases_are_read_as_hiImgIndx(client: TestClient, runtime: Runtime, alias: str) -> None:
    """E-INDEX-NAME"""
    record = exam_record()
    record[alias] = record.pop("hiImgIndx")
    result = saved(client, record)
    assert result["succFlag"] == "1" and f"已按 hiImgIndx 读取字段 {alias}" in result["message"]
    assert exams.exam_record(runtime.database, record[alias]) is not None


def test_index_and_alias_disagreeing_is_refused(client: TestClient) -> None:
    """E-INDEX-NAME"""
    record = exam_record()
    record["hiImgIdx"] = record["hiImgIndx"].replace("-000000000", "-B020ZYZZZ")
    result = saved(client, record)
    assert result["succFlag"] == "-1" and "别名 hiImgIdx" in result["message"]


def test_info_is_read_as_infno(client: TestClient) -> None:
    """E-INFO"""
    message = exam_message(exam_record())
    message["info"] = message.pop("infno")
    body = client.post(SAVE_EXAM, json=message).json()
    assert body["code"] == 0 and "已按 infno 读取字段 info" in body["message"]


def test_fixmedinsCode_names_the_sender_of_save(client: TestClient) -> None:
    """E-INFCODE"""
    message = exam_message(exam_record())
    message["fixmedinsCode"] = message.pop("infCode")
    assert client.post(SAVE_EXAM, json=message).json()["code"] == 0


def test_infCode_names_the_sender_of_queries() -> None:
    """E-INFCODE"""
    example = document_example("/mie/api/mie/queryExamRpotImgIndxListFHospital")
    example["infCode"] = example.pop("fixmedinsCode")
    value = check_envelope(CONTRACT, CONTRACT.transaction("queryExamRpotImgIndxListFHospital").body_schema, example).value
    assert value["fixmedinsCode"] == "123456789012"


@pytest.mark.parametrize("url", ["/mie/api/mie/deleteExamRpotImgIdxInfo", "/mie/api/mie/deleteExamRpotImgIndxInfo"])
@pytest.mark.parametrize("infno", ["deleteExamRpotImgIdxInfo", "deleteExamRpotImgIndxInfo"])
def test_both_spellings_of_delete_delete(client: TestClient, runtime: Runtime, url: str, infno: str) -> None:
    """E-DELETE-NAME"""
    record = exam_record()
    saved(client, record)
    message = {
        "infno": infno,
        "msgid": new_msgid(),
        "infTime": "2025-03-03 01:00:00",
        "infCode": INSTITUTION,
        "key": KEY,
        "input": [record["hiImgIndx"]],
    }
    body = client.post(url, json=message).json()
    assert body["code"] == 0 and body["data"][0]["succFlag"] == "1"
    assert exams.exam_record(runtime.database, record["hiImgIndx"]) is None


@pytest.mark.parametrize("infno", ["saveImgInfo", "saveImgFile"])
def test_saveImgInfo_takes_both_infno(infno: str) -> None:
    """E-IMGINFO-INFNO"""
    example = document_example("/mie/api/mie/saveImgInfo")
    example["infno"] = infno
    check_envelope(CONTRACT, CONTRACT.transaction("saveImgInfo").body_schema, example)


def test_examRsItCode_is_read_as_examRsltCode(client: TestClient, runtime: Runtime) -> None:
    """E-RSLT"""
    record = exam_record()
    record["examRsItCode"] = record.pop("examRsltCode")
    assert saved(client, record)["succFlag"] == "1"
    row = exams.exam_record(runtime.database, record["hiImgIndx"])
    assert row is not None and row.record["examRsltCode"] == "1" and "examRsItCode" not in row.record
    assert [code.name for code in CONTRACT.dictionary("examRsltCode").codes] == ["阴性", "阳性", "不确定"]


def test_studyUId_is_read_as_studyUid() -> None:
    """E-STUDYUID-NAME"""
    form = dict(CONTRACT.component("SaveRptFileForm")["example"], examRpotPdf1="<file>")
    form["studyUId"] = form.pop("studyUid")
    outcome = CONTRACT.validator("SaveRptFileForm").validate(form)
    assert outcome.errors == [] and outcome.value["studyUid"] == CONTRACT.component("SaveRptFileForm")["example"]["studyUid"]


def test_the_pdf_part_is_examRpotPdf1_and_required() -> None:
    """E-PDF-NAME, E-PDF-REQUIRED"""
    form = CONTRACT.component("SaveRptFileForm")
    assert "examRpotPdf1" in form["properties"] and "examRpotPdf1" in form["required"]
    assert form["properties"]["examRpotPdf1"]["x-printed-as"] == "examRpotPdf 1"


# --- types, lengths, rules -------------------------------------------------------------------------------------


def test_studyUid_takes_a_64_character_dicom_uid(client: TestClient) -> None:
    """E-STUDYUID-LEN"""
    uid = "1.3.6.1.4.1.44316.6.102.1.20250704114423696.61158672119535771932"
    assert len(uid) == 64 and saved(client, exam_record(studyUid=uid))["succFlag"] == "1"
    result = saved(client, exam_record(studyUid=uid + "1"))
    assert result["succFlag"] == "-1" and "maxLength" in json.dumps(result["errors"])
    assert saved(client, exam_record(studyUid="1.2.03"))["succFlag"] == "-1"


UID_FIELDS = [
    ("ExamRpotImgInfo", "studyUid"),
    ("ImgInfo", "studyUid"),
    ("SaveImgFileForm", "studyUid"),
    ("SaveRptFileForm", "studyUid"),
    ("FileSnDTO", "examUuid"),
    ("FileSnDTO", "snUuid"),
    ("FileSnDTO", "instUuid"),
]


def test_every_uid_field_follows_one_rule() -> None:
    """E-UID: every field whose name ends in Uid/Uuid is a DICOM UID of at most 64 characters."""
    found = sorted(
        (schema_name, name)
        for schema_name, schema in CONTRACT.document["components"]["schemas"].items()
        for name in schema.get("properties", {})
        if name.lower().endswith(("uid", "uuid"))
    )
    assert found == sorted(UID_FIELDS)
    fields = [CONTRACT.component(c)["properties"][f] for c, f in UID_FIELDS]
    rules = {(field["maxLength"], field["pattern"]) for field in fields}
    assert len(rules) == 1 and next(iter(rules))[0] == 64
    assert CONTRACT.component("ImgInfo")["properties"]["studyUid"]["x-length"] == "512"  # as printed


@pytest.mark.parametrize(("schema_name", "field"), UID_FIELDS)
@pytest.mark.parametrize(
    ("uid", "ok"),
    [
        ("1.3.6.1.4.1.44316.6.102.1.20250704114423696.61158672119535771932", True),
        ("1.3.6.1.4.1.44316.6.102.1.20250704114423696.611586721195357719321", False),  # 65 characters
        ("1.2.03", False),
        ("1.2.3.", False),
        ("1.2.3\n", False),
        ("1.2.a", False),
        ("../../etc", False),
    ],
)
def test_a_uid_field_takes_a_dicom_uid(schema_name: str, field: str, uid: str, ok: bool) -> None:
    """E-UID"""
    outcome = CONTRACT.validator(schema_name).validate({field: uid})
    assert (not any(error.code == field for error in outcome.errors)) is ok


def test_a_uid_of_more_than_64_characters_is_refused_by_saveImgInfo(client: TestClient, runtime: Runtime) -> None:
    """E-UID: §2.3 accepted 512 characters before; a study registered under such a UID could never be matched."""
    record = exam_record()
    assert saved(client, record)["succFlag"] == "1"
    message = img_info_message(record)
    message["input"][0]["studyUid"] = record["studyUid"] + ".1" * 40
    body = client.post("/mie/api/mie/saveImgInfo", json=message).json()
    assert body["code"] == 3002 and "maxLength" in json.dumps(body["data"], ensure_ascii=False)


def test_input_is_structure_and_a_string_is_refused(client: TestClient) -> None:
    """E-INPUT-TYPE"""
    message = exam_message(exam_record())
    message["input"] = json.dumps(message["input"], ensure_ascii=False)
    answer = client.post(SAVE_EXAM, json=message)
    assert answer.status_code == 400 and answer.json()["code"] == 1003 and "input(交易输入,#6)" in answer.json()["message"]


def test_records_are_bounded_and_json_is_read_strictly(client: TestClient) -> None:
    """E-INPUT-RECORDS, E-JSON-STRICT (the whole catalogue is tests/test_hostile_input.py)"""
    message = exam_message(exam_record())
    message["input"] = [exam_record() for _ in range(1001)]
    answer = client.post(SAVE_EXAM, json=message)
    assert answer.status_code == 400 and answer.json()["code"] == 1003 and "至多 1000 项" in answer.json()["message"]
    text = json.dumps(exam_message(exam_record()), ensure_ascii=False)
    answer = client.post(SAVE_EXAM, content=text.encode("gbk"), headers={"content-type": "application/json; charset=GBK"})
    assert answer.json()["code"] == 0
    twice = '{"key": "x", ' + text[1:]
    answer = client.post(SAVE_EXAM, content=twice.encode(), headers={"content-type": "application/json"})
    assert answer.json()["code"] == 1001 and "字段 key 在同一对象中出现了两次" in answer.json()["message"]


def test_code_is_a_number(client: TestClient) -> None:
    """E-CODE-TYPE, E-RESPONSE-WRAPPER"""
    body = client.post(SAVE_EXAM, json=exam_message(exam_record())).json()
    assert set(body) == {"code", "type", "message", "data"} and body["code"] == 0 and isinstance(body["code"], int)


@pytest.mark.parametrize(
    ("charge", "ok"),
    [
        ("240.00", True),
        (240, True),
        (19.99, True),
        ("0.07", True),
        ("240.001", False),
        (1234567.5, False),
        ("abc", False),
        (True, False),
    ],
)
def test_examCharge_number_or_string(client: TestClient, charge: Any, ok: bool) -> None:
    """E-DECIMAL"""
    assert (saved(client, exam_record(examCharge=charge))["succFlag"] == "1") is ok


@pytest.mark.parametrize(
    ("age", "ok"), [(35, True), ("35.5", True), (35.5, True), (1234.5, True), (12345, False), ("3.55", False)]
)
def test_age_number_or_string(age: Any, ok: bool) -> None:
    """E-DECIMAL"""
    outcome = CONTRACT.validator("ExamRpotImgInfo").validate(dict(CONTRACT.component("ExamRpotImgInfo")["example"], age=age))
    assert outcome.ok is ok


@pytest.mark.parametrize(
    ("total", "ok"),
    # 1000.0 is an integer to JSON Schema (draft-06 on) and ajv, so to mie; "١٠٠٠" has digits no JSON Schema pattern takes
    [(1000, True), ("1000", True), (1000.0, True), ("1000000", False), (1.5, False), ("١٠٠٠", False)],
)
def test_imageTotalNum_number_or_string(total: Any, ok: bool) -> None:
    """E-INT"""
    outcome = CONTRACT.validator("ImgInfo").validate(dict(CONTRACT.component("ImgInfo")["example"], imageTotalNum=total))
    assert outcome.ok is ok


@pytest.mark.parametrize(("total", "ok"), [("1000", True), (1000, False)])
def test_a_form_takes_imageTotalNum_as_text_only(total: Any, ok: bool) -> None:
    """E-INT: a multipart form's fields are text; the spec types the form's imageTotalNum `string`"""
    form = {**CONTRACT.component("SaveImgFileForm")["example"], "dicom": "<file>", "imageTotalNum": total}
    assert CONTRACT.validator("SaveImgFileForm").validate(form).ok is ok


def test_empty_optional_is_absent_empty_required_is_refused(client: TestClient) -> None:
    """E-EMPTY"""
    assert saved(client, exam_record(tel="", brdy="", prfs="", examWay=None))["succFlag"] == "1"
    result = saved(client, exam_record(psnName=""))
    assert result["succFlag"] == "-1" and "psnName(人员姓名,#2): 必填项为空" in result["message"]


def test_queries_take_the_document_envelope_without_a_key() -> None:
    """E-QUERY-KEY: optional on §2.6-§2.8 (how access is controlled then: tests/test_query_access.py), required elsewhere."""
    for infno in ("queryExamRpotImgIndxListFHospital", "queryImgCaheFIndex"):
        schema = CONTRACT.transaction(infno).body_schema
        assert "key" not in schema["required"] and "key" in schema["properties"]
        example = document_example(CONTRACT.transaction(infno).path)
        assert "key" not in example
        assert check_envelope(CONTRACT, schema, example).errors == []
    assert "key" in CONTRACT.transaction("saveExamRpotImgInfo").body_schema["required"]


def test_query_certno_keeps_its_printed_length() -> None:
    """E-CERTNO-LEN"""
    assert CONTRACT.component("QueryExamRpotImgIndxListInput")["properties"]["certno"]["maxLength"] == 600


def test_sdryChkDate_stays_required(client: TestClient) -> None:
    """E-SDRYCHKDATE"""
    record = exam_record()
    del record["sdryChkDate"]
    assert "sdryChkDate(二审日期,#69): 必填项缺失" in saved(client, record)["message"]


def test_report_md5_is_the_pdfs() -> None:
    """E-FILEMD5-NOTE"""
    field = CONTRACT.component("SaveRptFileForm")["properties"]["fileMd5"]
    assert field["x-erratum"] == "E-FILEMD5-NOTE" and "PDF" in field["description"]


def test_a_record_is_answered_1_or_minus_1_and_partial_is_the_message_code(client: TestClient) -> None:
    """E-SUCCFLAG"""
    body = client.post(SAVE_EXAM, json=exam_message(exam_record(), exam_record(gend="X"))).json()
    assert [r["succFlag"] for r in body["data"]] == ["1", "-1"] and body["code"] == 3001


@pytest.mark.parametrize(
    ("msgid", "ok"),
    [
        ("H37010000001202503010102030001", True),
        ("H1101020232120250301010203001", False),
        ("H11010202321202513010102030001", False),
        ("h11010202321202503010102030001", False),
    ],
)
def test_msgid_format_but_not_prefix(client: TestClient, msgid: str, ok: bool) -> None:
    """E-MSGID"""
    message = exam_message(exam_record())
    message["msgid"] = msgid
    answer = client.post(SAVE_EXAM, json=message)
    assert (answer.json()["code"] == 0) is ok
    if not ok:
        assert answer.status_code == 400 and "msgid(发送方报文 ID,#2)" in answer.json()["message"]


def test_examAdmdvs_is_six_digits_of_any_province(client: TestClient) -> None:
    """E-EXAMADMDVS"""
    assert saved(client, exam_record(examAdmdvs="520100"))["succFlag"] == "1"
    assert saved(client, exam_record(examAdmdvs="370000"))["succFlag"] == "1"
    assert saved(client, exam_record(examAdmdvs="52010"))["succFlag"] == "-1"


def test_imgDldLink_points_at_queryImgCaheFIndex() -> None:
    """E-2.6-TEXT"""
    assert "queryImgCaheFIndex" in CONTRACT.component("ResDTO")["properties"]["imgDldLink"]["description"]


def test_one_output_structure_for_2_7_and_2_8() -> None:
    """E-IMGCAHE-OUT"""
    assert {"areaCode", "imgDldLink", "hiImgIndx", "imgFileSnList", "fileContent"} == set(
        CONTRACT.component("ImgCaheResult")["properties"]
    )


# --- the index ------------------------------------------------------------------------------------------------


def test_index_takes_an_optional_sixth_part() -> None:
    """E-INDEX-6"""
    five = "111-110101197804050038-20241122143000-0000000000000-000000000"
    assert CONTRACT.index.parse(five).institution_code is None
    assert CONTRACT.index.parse(five + "-123502004266007980").institution_code == "123502004266007980"
    with pytest.raises(IndexError_, match="第6部分"):
        CONTRACT.index.parse(five + "-12350200426600798")


@pytest.mark.parametrize(
    ("part4", "part5", "ok"),
    [
        ("0" * 13, "0" * 9, True),
        ("0", "0", True),
        ("0" * 14, "0" * 9, False),
        ("0" * 13, "0" * 10, False),
        ("0" * 13, "B020ZYZZZ", True),
    ],
)
def test_index_parts_4_and_5(part4: str, part5: str, ok: bool) -> None:
    """E-INDEX-PART4"""
    text = f"111-110101197804050038-20241122143000-{part4}-{part5}"
    if ok:
        assert CONTRACT.index.parse(text).device_code == part4
    else:
        with pytest.raises(IndexError_):
            CONTRACT.index.parse(text)


def test_index_must_name_the_records_person_and_a_date_is_only_said(client: TestClient) -> None:
    """E-INDEX-PERSON"""
    record = exam_record()
    result = saved(client, dict(record, psnCertType="414"))
    assert result["succFlag"] == "-1" and "第1部分证件类型 '111' 与 psnCertType '414' 不一致" in result["message"]
    result = saved(client, exam_record(examDate="2023-04-02"))
    assert result["succFlag"] == "1" and "与 examDate 2023-04-02 不一致" in result["message"]


def test_a_space_in_an_index_is_refused(client: TestClient) -> None:
    """E-INDEX-SPACE"""
    record = exam_record()
    record["hiImgIndx"] = record["hiImgIndx"][:-1] + " " + record["hiImgIndx"][-1]
    assert saved(client, record)["succFlag"] == "-1"
    assert saved(client, exam_record(hiImgIndx=" " + exam_record()["hiImgIndx"]))["succFlag"] == "-1"


# --- examPart ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"), [("0", True), ("000000000", True), ("B020ZYZZZ", True), ("0000000000", False), ("00000000A", False)]
)
def test_examPart_placeholders(client: TestClient, value: str, ok: bool) -> None:
    """E-EXAMPART-PLACEHOLDER"""
    assert (saved(client, exam_record(examPart=value))["succFlag"] == "1") is ok


@pytest.mark.parametrize(
    ("value", "ok"), [("B020ZYZZZ B02010ZZZ", True), ("B020ZYZZZ,B02010ZZZ", True), ("B020ZYZZZ;B02010ZZZ", False)]
)
def test_examPart_takes_several_codes(client: TestClient, value: str, ok: bool) -> None:
    """E-EXAMPART-MULTI"""
    assert (saved(client, exam_record(examPart=value))["succFlag"] == "1") is ok
    setl = CONTRACT.validator("SetlInfoDTO").validate(dict(CONTRACT.component("SetlInfoDTO")["example"], examPart=value))
    assert not setl.ok


def test_malformed_and_twice_printed_codes_are_kept_and_flagged() -> None:
    """E-EXAMPART-DICT"""
    codes = {code.code: code for code in CONTRACT.dictionary("examPart").codes}
    assert "BD0" in codes and codes["BD0"].anomaly
    assert codes["BT00ZZZZ"].also_printed_as == ("膀胱造影",)
    assert codes["BQ2FZUZZZ"].also_printed_as and codes["BP0KZZZZA"].also_printed_as
    assert all(entry.anomaly for entry in codes.values() if len(entry.code) != 9)
    with pytest.raises(IndexError_):
        CONTRACT.index.parse("111-110101197804050038-20241122143000-0000000000000-BD0")


# --- the document's examples ---------------------------------------------------------------------------------------


def test_the_spec_example_is_the_printed_one_with_exactly_the_listed_repairs() -> None:
    """E-EX21-JSON, E-EX21-INFCODE, E-EX21-ACCESSION, E-EX21-EXAMPART, E-EX21-EXTRA"""
    printed = PRINTED_21.read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(printed)
    repaired = json.loads(printed.rstrip() + " }")  # E-EX21-JSON
    assert repaired["infCode"] == ""
    repaired["infCode"] = "H11010202321"  # E-EX21-INFCODE
    record = repaired["input"][0]
    assert "accessionNumber" not in record
    position = list(record).index("medTecnCode") + 1
    items = list(record.items())
    items.insert(position, ("accessionNumber", "114649960"))  # E-EX21-ACCESSION
    record = dict(items)
    assert record["examPart"] == "0000000000"
    record["examPart"] = "000000000"  # E-EX21-EXAMPART
    assert [s["examPart"] for s in record["setlInfoList"]] == ["00000000A", "00000000B"]
    for settlement in record["setlInfoList"]:
        settlement["examPart"] = "000000000"
    assert {"hospitalCode", "patientId"} <= set(record)  # E-EX21-EXTRA: kept, ignored on receipt
    repaired["input"][0] = record
    assert repaired == document_example()


def test_the_other_examples_are_valid_envelopes() -> None:
    """E-EX-OTHERS: §2.6-§2.8's are the document's own caller (123456789012) and carry no key."""
    for path, item in CONTRACT.document["paths"].items():
        content = item["post"]["requestBody"]["content"].get("application/json")
        if not content:
            continue
        examples = [content["example"]] if "example" in content else [e["value"] for e in content["examples"].values()]
        for example in examples:
            check_envelope(CONTRACT, CONTRACT.transaction(item["post"]["x-infno"]).body_schema, copy.deepcopy(example))
            sender = example.get("infCode") or example.get("fixmedinsCode")
            assert example["msgid"].startswith(sender), path
            if "fixmedinsCode" in example:
                assert (sender, example["msgid"], "key" in example) == ("123456789012", "123456789012202509230000000001", False)


def test_delete_answers_each_index_with_itself(client: TestClient) -> None:
    """E-EX25-ANSWER"""
    first, second = exam_record(), exam_record()
    saved(client, first)
    message = delete_message(first["hiImgIndx"], second["hiImgIndx"])
    data = client.post(DELETE_EXAM, json=message).json()["data"]
    assert [(d["hiImgIndx"], d["succFlag"]) for d in data] == [(first["hiImgIndx"], "1"), (second["hiImgIndx"], "-1")]


# --- severities -----------------------------------------------------------------------------------------------


def test_severities_error_warning_information_and_only_errors_refuse() -> None:
    """E-SEVERITY"""
    from mie.toolkit.validate import validate_document

    body = document_example()
    body["input"][0]["rpotNo"] = "R1,R2"
    body["input"][0]["examPart"] = "B999ZZZZZ"
    body["input"][0]["setlInfoList"][0]["examPart"] = "XYZ"
    severities = {f.where: f.severity for f in validate_document(body).findings if f.rule != "note"}
    assert severities == {
        "$.input[0].rpotNo": "information",
        "$.input[0].examPart": "warning",
        "$.input[0].setlInfoList[0].examPart": "error",
    }


@pytest.mark.parametrize(
    ("value", "ok"),
    [("B999ZZZZZ", True), ("B020ZYZZZ B999ZZZZZ", True), ("B999ZZZZ", False), ("b999zzzzz", False), ("00000000A", False)],
)
def test_an_unlisted_well_formed_examPart_is_a_warning(client: TestClient, value: str, ok: bool) -> None:
    """E-EXAMPART-UNLISTED"""
    result = saved(client, exam_record(examPart=value))
    assert (result["succFlag"] == "1") is ok
    if ok:
        assert "警告: examPart(检查部位代码,#13): 'B999ZZZZZ' 不在字典 examPart 中 (符合 WS/T 364.8" in result["message"]
    else:
        assert result["message"].startswith("examPart(检查部位代码,#13):")
    settlement = exam_record()
    settlement["setlInfoList"][0]["examPart"] = "B999ZZZZZ"
    assert "警告: setlInfoList[0].examPart(检查部位代码,SetlInfoDTO#4)" in saved(client, settlement)["message"]


def test_a_msgid_with_another_length_of_institution_code_is_a_warning(client: TestClient) -> None:
    """E-MSGID-CODE"""
    message = exam_message(exam_record())
    message["msgid"] = "H371464507202503010102030001"  # the §2.6 answer's 10-character institution code
    answer = client.post(SAVE_EXAM, json=message).json()
    assert answer["code"] == 0 and "警告: msgid(发送方报文 ID,#2)" in answer["message"]
    assert "交易机构编号部分不是 12 位" in answer["message"]
    message["msgid"] = "H371464507202513010102030001"  # month 13: still an error
    assert client.post(SAVE_EXAM, json=message).status_code == 400


def test_several_report_numbers_are_information_in_2_1_and_a_warning_in_2_4(client: TestClient) -> None:
    """E-RPOTNO-SEVERAL"""
    result = saved(client, exam_record(rpotNo="R123456,R123457"))
    assert result["succFlag"] == "1" and "提示: rpotNo(报告编号,#57): 多个报告编号" in result["message"]
    form = CONTRACT.validator("SaveRptFileForm").validate(
        {**CONTRACT.component("SaveRptFileForm")["example"], "rpotNo": "R1,R2", "examRpotPdf1": "<file>"}
    )
    assert form.ok and [(a.code, a.severity) for a in form.advisories] == [("rpotNo", "warning")]


def test_sdryChkDate_absent_without_a_second_review_is_a_warning(client: TestClient) -> None:
    """E-SDRYCHKDATE-NONE"""
    record = exam_record()
    for field in ("sdryChkDate", "sdryChkMedinsCode", "sdryChkDrCode", "sdryChkDrName"):
        del record[field]
    result = saved(client, record)
    assert result["succFlag"] == "1" and "警告: sdryChkDate(二审日期,#69): 必填项缺失 (二审医疗机构" in result["message"]
    record = exam_record(sdryChkDrName="")  # "" is absent (E-EMPTY); the others still name a second review
    del record["sdryChkDate"]
    assert saved(client, record)["message"].startswith("sdryChkDate(二审日期,#69): 必填项缺失")


@pytest.mark.parametrize(("code", "ok"), [("116", True), ("999", True), ("11", False), ("1160", False)])
def test_an_unlisted_three_digit_psnCertType_is_a_warning(client: TestClient, code: str, ok: bool) -> None:
    """E-PSNCERTTYPE-UNLISTED"""
    record = exam_record(psnCertType=code)
    record["hiImgIndx"] = code + record["hiImgIndx"][3:]  # the index's part 1 is the certificate type
    result = saved(client, record)
    assert (result["succFlag"] == "1") is ok
    if ok:
        assert f"警告: psnCertType(人员证件类型,#3): '{code}' 不在字典 psnCertType 中 (GA/T 2000.156" in result["message"]


@pytest.mark.parametrize("erratum", ["E-MSGID-CODE", "E-PSNCERTTYPE-UNLISTED"])
def test_errata_of_a_severity_name_every_query_schema_the_spec_marks(erratum: str) -> None:
    """ERRATA says what §2.6-§2.8 do: a warning wherever the spec marks the erratum (an `x-relax` entry citing it),
    and the row names each query schema so marked (and no longer says they refuse it)."""
    row = next(line for line in ERRATA.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {erratum} |"))
    schemas = CONTRACT.document["components"]["schemas"]
    marked = {
        name for name, schema in schemas.items() if f"'x-erratum': '{erratum}'" in str(schema) and name.startswith("Query")
    }
    assert marked and all(name in row for name in marked), (marked, row)
    assert "not marked" not in row and "refuse it |" not in row.replace("`--strict` refuses it |", "")
