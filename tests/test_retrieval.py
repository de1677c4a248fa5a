"""§2.6 queryExamRpotImgIndxListFHospital, §2.7 queryImgCaheFileSn and §2.8 queryImgCahe, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
from typing import Any
from urllib.parse import urlsplit

import pydicom
import pytest
from pydicom.uid import generate_uid
from sqlalchemy import text
from starlette.testclient import TestClient

from mie.contract import current
from mie.runtime import Runtime
from mie.service.links import Page
from mie.store import repository as repository_module
from mie.store.database import Database
from tests.conftest import DELETE_EXAM, SAVE_EXAM, delete_message, document_example, exam_message
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.retrieval_helpers import (
    ALLOWED,
    QUERIER,
    QUERY_IMAGES,
    QUERY_INDEX,
    client_at,
    fetch_query,
    file_content,
    index_query,
    list_query,
    person_record,
    register_querier,
    schema_errors,
)
from tests.test_images_http import upload

CONTRACT = current()

CERTNO = "110101197804050041"  # the document's §2.6 example person


@pytest.fixture
def querier(runtime: Runtime) -> TestClient:
    """The document's querying institution, asking from an address in its allow-list (no key, as printed)."""
    register_querier(runtime)
    return client_at(runtime, ALLOWED)


def save(client: TestClient, *records: dict[str, Any]) -> None:
    answer = client.post(SAVE_EXAM, json=exam_message(*records)).json()
    assert answer["code"] == 0, answer


def found(querier: TestClient, **input_changes: Any) -> list[dict[str, Any]]:
    answer = querier.post(QUERY_INDEX, json=index_query(**input_changes))
    assert answer.status_code == 200 and answer.json()["code"] == 0, answer.json()
    return answer.json()["data"]


# --- §2.6 --------------------------------------------------------------------------------------------------------------


def test_the_document_example_is_answered_in_the_shape_of_the_documents_answer(
    client: TestClient, querier: TestClient, runtime: Runtime
) -> None:
    record = person_record(CERTNO, psnName="John Doe", examDate="2025-04-02", examPart="B02910ZZZ")
    save(client, record)
    request = document_example(QUERY_INDEX)
    assert "key" not in request and request["fixmedinsCode"] == QUERIER  # exactly as the document prints it
    answer = querier.post(QUERY_INDEX, json=request).json()
    assert schema_errors("IndexListResponse", answer) == []
    printed = document_example_answer()
    assert {k: answer[k] for k in ("code", "type", "message")} == {k: printed[k] for k in ("code", "type", "message")}
    [item] = answer["data"]
    assert list(item) == CONTRACT.component("ResDTO")["required"]  # all eleven, in the table's order
    assert set(item) == set(printed["data"][0])
    assert item["certno"] == "110101*****0041" == printed["data"][0]["certno"]
    assert (item["hiImgIndx"], item["psnName"], item["psnCertType"], item["examDate"], item["examPart"]) == (
        record["hiImgIndx"],
        "John Doe",
        "111",
        "2025-04-02",
        "B02910ZZZ",
    )
    assert (item["fixmedinsCode"], item["fixmedinsName"]) == (record["fixmedinsCode"], record["fixmedinsName"])
    public = runtime.settings.effective_public_url
    assert item["imgDldLink"] == f"{public}{QUERY_IMAGES}"
    for field, page in (("examRpotLinkUrl", Page.report), ("imgInfoLinkUrl", Page.image)):
        assert item[field].startswith(f"{public}/mie/{page.value}/view?t=")
        grant = runtime.links.open(item[field].split("?t=", 1)[1], page)
        assert (grant.hi_img_indx, grant.institution_code) == (record["hiImgIndx"], QUERIER)
        assert CERTNO not in item[field]  # the token does not show the index it names


def document_example_answer() -> dict[str, Any]:

    return CONTRACT.document["paths"][QUERY_INDEX]["post"]["responses"]["200"]["content"]["application/json"]["example"]


def test_the_date_range_is_inclusive_at_both_ends(client: TestClient, querier: TestClient) -> None:
    dates = ["2022-04-03", "2022-04-04", "2023-06-01", "2025-04-04", "2025-04-05"]
    records = {day: person_record(CERTNO, examDate=day) for day in dates}
    save(client, *records.values())
    in_range = [item["examDate"] for item in found(querier, psnName=None, begntime="2022-04-04", endtime="2025-04-04")]
    assert in_range == ["2025-04-04", "2023-06-01", "2022-04-04"]  # the most recent first
    assert [i["examDate"] for i in found(querier, psnName=None, begntime="2025-04-04", endtime=None)] == [
        "2025-04-05",
        "2025-04-04",
    ]
    assert [i["examDate"] for i in found(querier, psnName=None, begntime=None, endtime="2022-04-04")] == [
        "2022-04-04",
        "2022-04-03",
    ]
    assert len(found(querier, psnName=None, begntime=None, endtime=None)) == 5
    assert len(found(querier, psnName=None, begntime="", endtime="")) == 5  # empty is absent (ERRATA E-EMPTY)
    assert [i["examDate"] for i in found(querier, psnName=None, begntime="2023-06-01", endtime="2023-06-01")] == ["2023-06-01"]


def test_the_same_day_is_ordered_by_index(client: TestClient, querier: TestClient) -> None:
    records = [person_record(CERTNO, examDate="2024-01-01") for _ in range(3)]
    save(client, *records)
    assert [i["hiImgIndx"] for i in found(querier, psnName=None, begntime=None, endtime=None)] == sorted(
        r["hiImgIndx"] for r in records
    )


@pytest.mark.parametrize(
    ("begntime", "endtime", "field"),
    [
        ("2025-04-05", "2025-04-04", "begntime"),  # begins after it ends
        ("2022/04/04", "2025-04-04", "begntime"),
        ("2022-04-04", "20250404", "endtime"),
        ("2022-02-30", "2025-04-04", "begntime"),  # no such day
    ],
)
def test_a_wrong_range_is_refused_naming_the_field(querier: TestClient, begntime: str, endtime: str, field: str) -> None:
    answer = querier.post(QUERY_INDEX, json=index_query(begntime=begntime, endtime=endtime))
    body = answer.json()
    assert answer.status_code == 400 and body["code"] == 1003
    assert [error["code"] for error in body["data"]] == [field]
    seq = {"begntime": "#4", "endtime": "#5"}[field]
    assert body["data"][0]["seq"] == seq and f"input.{field}(" in body["message"]


def test_required_input_is_named(querier: TestClient) -> None:
    body = querier.post(QUERY_INDEX, json=index_query(certno=None)).json()
    assert body["code"] == 1003 and "input.certno(证件号码,#3): 必填项缺失" in body["message"]


def test_another_certificate_type_is_another_person(client: TestClient, querier: TestClient) -> None:
    save(client, person_record(CERTNO, psnName="John Doe", examDate="2024-01-01"))
    assert len(found(querier, begntime=None, endtime=None)) == 1
    assert found(querier, psnCertType="112", begntime=None, endtime=None) == []
    assert found(querier, certno="110101197804050042", begntime=None, endtime=None) == []


def test_an_unknown_person_is_an_empty_list(querier: TestClient) -> None:
    answer = querier.post(QUERY_INDEX, json=index_query(certno="990101190001010000")).json()
    assert (answer["code"], answer["data"]) == (0, []) and schema_errors("IndexListResponse", answer) == []


def test_a_lower_case_check_character_finds_the_person(client: TestClient, querier: TestClient) -> None:
    save(client, person_record("11010119880405003x", psnName="张三", examDate="2024-05-05"))
    for typed in ("11010119880405003x", "11010119880405003X"):
        [item] = found(querier, certno=typed, psnName="张三", begntime=None, endtime=None)
        assert item["certno"] == "110101*****003x"  # masked as the record carries it


def test_psnName_cross_checks_the_person(client: TestClient, querier: TestClient) -> None:
    save(client, person_record(CERTNO, psnName="李丽", examDate="2024-01-01"))
    assert len(found(querier, psnName="李丽", begntime=None, endtime=None)) == 1
    assert len(found(querier, psnName=" 李丽 ", begntime=None, endtime=None)) == 1
    assert len(found(querier, psnName=None, begntime=None, endtime=None)) == 1
    assert len(found(querier, psnName="", begntime=None, endtime=None)) == 1
    assert found(querier, psnName="王五", begntime=None, endtime=None) == []


def test_only_the_current_version_is_answered(client: TestClient, querier: TestClient) -> None:
    record = person_record(CERTNO, psnName="John Doe", examDate="2024-01-01", examPart="000000000")
    save(client, record)
    save(client, {**record, "examPart": "B02910ZZZ"})
    [item] = found(querier, begntime=None, endtime=None)
    assert item["examPart"] == "B02910ZZZ"


def test_fixmedinsName_falls_back_to_the_registered_name(client: TestClient, querier: TestClient) -> None:
    record = person_record(CERTNO, psnName="John Doe", examDate="2024-01-01")
    del record["fixmedinsName"]
    save(client, record)
    [item] = found(querier, begntime=None, endtime=None)
    assert item["fixmedinsName"] == "北京大学第一医院"


def test_the_person_query_uses_the_index(database: Database) -> None:
    """No table scan at any size: the plan searches ix_exam_record_person (with sequential scans off on
    PostgreSQL, which on a table this small would scan anyway; without a usable index it still would)."""
    statement = repository_module._PERSON_EXAMS
    with database.engine.begin() as connection:
        compiled = statement.compile(dialect=connection.dialect)
        values = {"cert_type": "111", "certno": CERTNO, "begin": "", "end": "9999-12-31"}
        parameters: Any = (
            tuple(values[name] for name in compiled.positiontup) if compiled.positional and compiled.positiontup else values
        )
        if connection.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", parameters))
            assert "USING INDEX ix_exam_record_person" in plan, plan
            assert "SCAN exam_record" not in plan, plan
        else:
            connection.execute(text("set local enable_seqscan = off"))
            plan = " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {compiled}", parameters))
            assert "ix_exam_record_person" in plan and "Seq Scan on exam_record" not in plan, plan


# --- §2.7 and §2.8 -----------------------------------------------------------------------------------------------------


@pytest.fixture
def exam_with_images(client: TestClient) -> tuple[dict[str, Any], list[bytes]]:
    """An exam with three instances over §2.2: two of one series, one of another."""
    record = person_record(CERTNO, psnName="John Doe", examDate="2024-01-01")
    save(client, record)
    first = make_instance(record["studyUid"])
    second = make_instance(record["studyUid"], kind="mr")
    second.SeriesInstanceUID = first.SeriesInstanceUID
    third = make_instance(record["studyUid"], kind="jpeg2000")
    files = [part10_bytes(ds) for ds in (first, third, second)]  # arrival order: series A, series B, series A
    for data in files:
        assert upload(client, record, data, imageTotalNum="3").json()["code"] == 0
    return record, files


def test_the_image_list_is_in_series_then_arrival_order(querier: TestClient, exam_with_images: Any) -> None:
    record, files = exam_with_images
    answer = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()
    assert schema_errors("ImgCaheResponse", answer) == []
    data = answer["data"]
    assert (data["hiImgIndx"], data["fileContent"], data["areaCode"], data["imgDldLink"]) == (
        record["hiImgIndx"],
        None,
        None,
        None,
    )
    listed = data["imgFileSnList"]
    assert {item["examUuid"] for item in listed} == {record["studyUid"]}
    uids = [sop_instance_uid(files[i]) for i in (0, 2, 1)]  # series A's two instances, then series B's
    assert [item["instUuid"] for item in listed] == uids
    series = [item["snUuid"] for item in listed]
    assert series[0] == series[1] != series[2]


def numbered(study_uid: str, series_uid: str, series_number: int | None, instance_number: int | None) -> pydicom.Dataset:
    ds = make_instance(study_uid)
    ds.SeriesInstanceUID = series_uid
    for keyword, number in (("SeriesNumber", series_number), ("InstanceNumber", instance_number)):
        if number is None:
            del ds[keyword]
        else:
            setattr(ds, keyword, number)
    return ds


def shuffled_exam(client: TestClient) -> tuple[dict[str, Any], list[str], list[pydicom.Dataset]]:
    """Three series sent shuffled over §2.2: series 2 (instances 1-3 and one without a number), series 1
    (instances 1-2), and a series without a number. Returns the record, the expected §2.7 order, the datasets."""
    record = person_record(CERTNO, examDate="2024-01-01")
    save(client, record)
    study, two, one, none = record["studyUid"], generate_uid(), generate_uid(), generate_uid()
    by_name = {
        "2/3": numbered(study, two, 2, 3),
        "none/1": numbered(study, none, None, 1),
        "1/2": numbered(study, one, 1, 2),
        "2/-": numbered(study, two, 2, None),
        "2/1": numbered(study, two, 2, 1),
        "1/1": numbered(study, one, 1, 1),
        "2/2": numbered(study, two, 2, 2),
    }
    for ds in by_name.values():  # this dict's order is the arrival order
        answer = upload(client, record, part10_bytes(ds), imageTotalNum=str(len(by_name))).json()
        assert answer["code"] == 0, answer
    expected = [str(by_name[name].SOPInstanceUID) for name in ("1/1", "1/2", "2/1", "2/2", "2/3", "2/-", "none/1")]
    return record, expected, list(by_name.values())


def test_the_image_list_is_in_series_and_instance_order_whatever_the_arrival(client: TestClient, querier: TestClient) -> None:
    """Series by Series Number, instances by Instance Number; those without a number after, in arrival order."""
    record, expected, _datasets = shuffled_exam(client)
    listed = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    assert [item["instUuid"] for item in listed] == expected


def test_rows_stored_before_the_numbers_were_kept_are_listed_in_arrival_order(
    client: TestClient, querier: TestClient, database: Database
) -> None:
    """Rows of revision 0002 and earlier have no numbers (the migration reads no file): series by first arrival,
    instances by arrival, after any numbered ones."""
    record, _expected, datasets = shuffled_exam(client)
    with database.engine.begin() as connection:
        connection.execute(text("update instance set series_number = null, instance_number = null, modality = null"))
    listed = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    by_series: dict[str, list[str]] = {}
    for ds in datasets:
        by_series.setdefault(str(ds.SeriesInstanceUID), []).append(str(ds.SOPInstanceUID))
    assert [item["instUuid"] for item in listed] == [uid for members in by_series.values() for uid in members]


def sop_instance_uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)


def test_each_instance_comes_back_byte_for_byte(querier: TestClient, exam_with_images: Any) -> None:
    record, files = exam_with_images
    listed = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    fetched = []
    for item in listed:
        answer = querier.post(QUERY_IMAGES, json=fetch_query(record["hiImgIndx"], item))
        assert answer.status_code == 200 and int(answer.headers["content-length"]) == len(answer.content)
        body = answer.json()
        assert schema_errors("ImgCaheResponse", body) == []
        assert (body["code"], body["data"]["hiImgIndx"], body["data"]["imgFileSnList"]) == (0, record["hiImgIndx"], None)
        fetched.append(md5(file_content(body)))
    assert sorted(fetched) == sorted(md5(data) for data in files)


def test_the_document_examples_of_2_7_and_2_8_are_answered_in_the_documents_shape(
    client: TestClient, querier: TestClient, runtime: Runtime
) -> None:
    """The document's own requests (its index, its FileSnDTO 111/222/333), with data stored under them."""
    example_list = document_example(QUERY_IMAGES, "queryImgCaheFileSn")
    example_fetch = document_example(QUERY_IMAGES, "queryImgCahe")
    index = example_list["input"]["hiImgIndx"]
    assert example_fetch["input"]["hiImgIndx"] == index and "key" not in example_list and "key" not in example_fetch
    record = person_record("11010119880405003X", psnName="John Doe", examDate="2024-11-22")
    record["hiImgIndx"] = index
    save(client, record)
    data = part10_bytes(make_instance(record["studyUid"]))
    assert upload(client, record, data, imageTotalNum="1").json()["code"] == 0
    # give the stored instance the document's UIDs 111/222/333 (they are valid UIDs), file and row alike
    with runtime.database.engine.begin() as connection:
        connection.execute(
            text("update instance set study_uid = '111', series_uid = '222', sop_instance_uid = '333' where hi_img_indx = :i"),
            {"i": index},
        )
    listed = querier.post(QUERY_IMAGES, json=example_list).json()
    printed = response_examples()
    assert schema_errors("ImgCaheResponse", listed) == []
    assert listed == printed["queryImgCaheFileSn"]["value"]
    fetched = querier.post(QUERY_IMAGES, json=example_fetch).json()
    assert schema_errors("ImgCaheResponse", fetched) == []
    shape = {**printed["queryImgCahe"]["value"], "data": {**printed["queryImgCahe"]["value"]["data"], "fileContent": None}}
    assert {**fetched, "data": {**fetched["data"], "fileContent": None}} == shape
    assert file_content(fetched) == data


def response_examples() -> dict[str, Any]:

    return CONTRACT.document["paths"][QUERY_IMAGES]["post"]["responses"]["200"]["content"]["application/json"]["examples"]


def test_an_unknown_index_is_refused_with_3008(querier: TestClient) -> None:
    index = person_record(CERTNO)["hiImgIndx"]
    for message in (list_query(index), fetch_query(index, {"examUuid": "1.2", "snUuid": "1.2.3", "instUuid": "1.2.3.4"})):
        answer = querier.post(QUERY_IMAGES, json=message)
        assert answer.status_code == 404 and answer.json()["code"] == 3008
        assert schema_errors("ErrorResponse", answer.json()) == []


def test_an_instance_of_another_exam_or_with_other_uids_is_refused_with_3009(
    client: TestClient, querier: TestClient, exam_with_images: Any
) -> None:
    record, _ = exam_with_images
    other = person_record(CERTNO, psnName="John Doe", examDate="2024-02-02")
    save(client, other)
    listed = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    item = listed[0]
    wrong = [
        (other["hiImgIndx"], item),  # an instance of another exam
        (record["hiImgIndx"], {**item, "examUuid": generate_uid()}),
        (record["hiImgIndx"], {**item, "snUuid": listed[2]["snUuid"]}),
        (record["hiImgIndx"], {**item, "instUuid": generate_uid()}),
    ]
    for index, file_sn in wrong:
        answer = querier.post(QUERY_IMAGES, json=fetch_query(index, file_sn))
        assert answer.status_code == 404 and answer.json()["code"] == 3009, file_sn


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"serviceName": "other"}, "serviceName"),
        ({"serviceName": None}, "serviceName"),
        ({"hiImgIndx": "111-bad"}, "hiImgIndx"),
        ({"imgFileSn": {"examUuid": "1.2", "snUuid": "x", "instUuid": "1.2.3"}}, "snUuid"),
    ],
)
def test_a_broken_image_query_is_refused_naming_the_field(querier: TestClient, change: dict[str, Any], field: str) -> None:
    message = fetch_query(person_record(CERTNO)["hiImgIndx"], {"examUuid": "1.2", "snUuid": "1.2.3", "instUuid": "1.2.3.4"})
    for name, value in change.items():
        if value is None:
            del message["input"][name]
        else:
            message["input"][name] = value
    answer = querier.post(QUERY_IMAGES, json=message)
    assert answer.status_code == 400 and answer.json()["code"] == 1003
    assert field in [error["code"] for error in answer.json()["data"]]


# --- delete follows through (§2.5) -------------------------------------------------------------------------------------


def test_a_deleted_exam_disappears_from_2_6_to_2_8_at_once(
    client: TestClient, querier: TestClient, exam_with_images: Any
) -> None:
    record, _ = exam_with_images
    listed = querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["data"]["imgFileSnList"]
    [item] = found(querier, begntime=None, endtime=None)
    assert item["hiImgIndx"] == record["hiImgIndx"]
    # the links of the §2.6 answer open their pages (the path and token of each; the host is --public-url's)
    pages = [urlsplit(item[name]) for name in ("examRpotLinkUrl", "imgInfoLinkUrl")]
    opened = [querier.get(f"{page.path}?{page.query}") for page in pages]
    assert [answer.status_code for answer in opened] == [200, 200]
    assert record["diagRslt"] in opened[0].text and "text/html" in opened[1].headers["content-type"]
    assert client.post(DELETE_EXAM, json=delete_message(record["hiImgIndx"])).json()["code"] == 0
    assert found(querier, begntime=None, endtime=None) == []
    assert querier.post(QUERY_IMAGES, json=list_query(record["hiImgIndx"])).json()["code"] == 3008
    assert querier.post(QUERY_IMAGES, json=fetch_query(record["hiImgIndx"], listed[0])).json()["code"] == 3008
    # and its links stop working
    closed = [querier.get(f"{page.path}?{page.query}") for page in pages]
    assert [answer.status_code for answer in closed] == [410, 410]
    assert all("已删除" in answer.text or "不存在" in answer.text for answer in closed)



def test_the_reads_of_a_query_do_not_wait_for_a_writer(client: TestClient, runtime: Runtime) -> None:
    """Database.reading (what the queries read through) reads a snapshot: on SQLite it neither waits for nor takes
    the writers' turn, so a query's reads never queue behind uploads (only its audit event does)."""
    import threading

    record = person_record(CERTNO, psnName="John Doe", examDate="2024-01-01")
    save(client, record)
    seen: list[int] = []

    def read() -> None:
        with runtime.database.reading() as repository:
            seen.append(len(repository.exams_of_person("111", CERTNO, "", "9999-12-31")))

    with runtime.database.unit_of_work() as writer:  # holds its turn (and, on SQLite, the write lock)
        writer.exam_ref(record["hiImgIndx"])
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=30)
        assert not reader.is_alive() and seen == [1]


def test_the_document_spellings_of_the_index_are_read(querier: TestClient, exam_with_images: Any) -> None:
    """§2.7's table prints hilmgIdx, §2.8's hiImglndx (ERRATA E-INDEX-NAME): read as hiImgIndx, and said."""
    record, files = exam_with_images
    listing = list_query(record["hiImgIndx"])
    listing["input"]["hilmgIdx"] = listing["input"].pop("hiImgIndx")
    answer = querier.post(QUERY_IMAGES, json=listing).json()
    assert answer["code"] == 0 and len(answer["data"]["imgFileSnList"]) == 3 and "hilmgIdx" in answer["message"]
    fetch = fetch_query(record["hiImgIndx"], answer["data"]["imgFileSnList"][0])
    fetch["input"]["hiImglndx"] = fetch["input"].pop("hiImgIndx")
    fetched = querier.post(QUERY_IMAGES, json=fetch).json()
    assert md5(file_content(fetched)) == md5(files[0]) and "hiImglndx" in fetched["message"]


def test_an_empty_stored_file_is_an_empty_fileContent() -> None:
    from mie.service.retrieval import ImageStream

    ended: list[int] = []
    stream = ImageStream(b'{"data":{"fileContent":"', io.BytesIO(b""), 0, b'"}}', ended.append)
    assert b"".join(stream.chunks()) == b'{"data":{"fileContent":""}}' and ended == [0]
    data = bytes(range(256)) * 5000  # not a multiple of 3, several pieces
    stream = ImageStream(b"[", io.BytesIO(data), len(data), b"]", ended.append)
    body = b"".join(stream.chunks())
    assert len(body) == stream.content_length and base64.b64decode(body[1:-1]) == data and ended[-1] == len(data)


def test_a_short_identity_number_is_masked_too(client: TestClient, querier: TestClient) -> None:
    """A passport number (GA/T 2000.156 414) is too short for the 6 + 4 of the document's example: the general mask."""
    save(client, person_record("E12345678", psn_cert_type="414", psnName="John Doe", examDate="2024-01-01"))
    [item] = found(querier, psnCertType="414", certno="e12345678", begntime=None, endtime=None)
    assert item["certno"] == "E1*****78" and "2345" not in item["certno"]


def test_queries_keep_the_severities_of_the_other_transactions(client: TestClient, querier: TestClient) -> None:
    """E-MSGID-CODE and E-PSNCERTTYPE-UNLISTED hold for §2.6-§2.8 too: a 10-character institution code in the msgid
    (as the document's own §2.6 answer shows one) and a well-formed certificate type outside the corroborated list
    are answered, with a warning in the message, not refused."""
    save(client, person_record("E12345678", psn_cert_type="414", psnName="John Doe", examDate="2024-01-01"))
    query = index_query(psnCertType="998", certno="E12345678", begntime=None, endtime=None)
    query["msgid"] = "H371464507" + query["msgid"][12:]
    answer = querier.post(QUERY_INDEX, json=query).json()
    assert answer["code"] == 0 and answer["data"] == [], answer
    assert "12 位" in answer["message"] and "psnCertType" in answer["message"]
    listing = list_query("111-110101197804050041-20241122143000-0000000000000-000000000")
    listing["msgid"] = "H371464507" + listing["msgid"][12:]
    assert querier.post(QUERY_IMAGES, json=listing).json()["code"] == 3008  # reached the business logic
