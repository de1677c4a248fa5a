"""One exam, one index (ERRATA E-INDEX-SPELLING): parts 4 and 5 spelled "0" or as their full zeros name the same exam
in every transaction, through HTTP; `mie validate` says which spelling is canonical; revision 0005_index_key merges
exams stored twice before the rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, select, update
from starlette.testclient import TestClient

from mie.config import Settings
from mie.runtime import Runtime
from mie.service import exams
from mie.service.institutions import add_institution
from mie.store.schema import _config, _migrating
from mie.toolkit.validate import validate_document
from mie.web.app import create_app
from tests.conftest import DELETE_EXAM, INSTITUTION, KEY, SAVE_EXAM, delete_message, exam_message, img_info_message
from tests.dicom_files import make_instance, part10_bytes
from tests.retrieval_helpers import (
    ALLOWED,
    CONTRACT,
    QUERY_IMAGES,
    QUERY_INDEX,
    client_at,
    fetch_query,
    index_query,
    list_query,
    person_record,
    register_querier,
)
from tests.test_images_http import upload as upload_image
from tests.test_migrations import database_url  # noqa: F401  (a fixture)
from tests.test_reports import reports
from tests.test_reports import upload as upload_report
from tests.test_retrieval import querier  # noqa: F401  (a fixture)

FULL, SHORT = "-0000000000000-000000000", "-0-0"


def short(index: str) -> str:
    """The same index with parts 4 and 5 spelled "0"."""
    assert index.endswith(FULL)
    return index[: -len(FULL)] + SHORT


def saved(client: TestClient, record: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(SAVE_EXAM, json=exam_message(record)).json()
    assert answer["code"] == 0, answer
    return answer["data"][0]


def listed(asker: TestClient, index: str) -> list[str]:
    answer = asker.post(QUERY_IMAGES, json=list_query(index)).json()
    assert answer["code"] == 0, answer
    return [item["instUuid"] for item in answer["data"]["imgFileSnList"]]


def test_either_spelling_names_the_same_exam_in_every_transaction(
    client: TestClient,
    runtime: Runtime,
    querier: TestClient,  # noqa: F811
) -> None:
    record = person_record()
    full = record["hiImgIndx"]
    first = saved(client, record)
    assert first["succFlag"] == "1" and "E-INDEX-SPELLING" not in first["message"]
    # §2.1 in the other spelling replaces the exam: a new version, the first kept in history, said in the answer
    again = saved(client, {**record, "hiImgIndx": short(full), "psnName": "另一个名字"})
    assert again["succFlag"] == "1" and "第 2 版" in again["message"] and "规范写法" in again["message"], again
    assert exams.exam_record(runtime.database, short(full)) is None  # kept under the index first saved
    assert exams.exam_record(runtime.database, full).version == 2
    assert [row.record["psnName"] for row in exams.exam_history(runtime.database, full)] == [record["psnName"]]
    # §2.6 answers it once, in the spelling it was first saved with
    found = querier.post(QUERY_INDEX, json=index_query(certno=record["certno"], psnName=None, begntime=None, endtime=None))
    assert [(exam["hiImgIndx"], exam["psnName"]) for exam in found.json()["data"]] == [(full, "另一个名字")]
    # §2.3, §2.2 and §2.4 in the short spelling attach to it
    registered = client.post("/mie/api/mie/saveImgInfo", json=img_info_message({**record, "hiImgIndx": short(full)}, total=2))
    assert registered.json()["code"] == 0 and registered.json()["data"][0]["succFlag"] == "1", registered.json()
    instance = make_instance(record["studyUid"])
    data = part10_bytes(instance)
    assert upload_image(client, {**record, "hiImgIndx": short(full)}, data).json()["code"] == 0
    assert upload_report(client, {**record, "hiImgIndx": short(full)}).json()["code"] == 0
    assert upload_report(client, record).json()["code"] == 0
    assert [(report.hi_img_indx, report.version) for report in reports(runtime)] == [(full, 1), (full, 2)]
    # §2.7 and §2.8 find it by either
    uid = str(instance.SOPInstanceUID)
    assert listed(querier, full) == listed(querier, short(full)) == [uid]
    file_sn = {"examUuid": record["studyUid"], "snUuid": str(instance.SeriesInstanceUID), "instUuid": uid}
    fetched = querier.post(QUERY_IMAGES, json=fetch_query(short(full), file_sn)).json()
    assert fetched["code"] == 0 and base64.b64decode(fetched["data"]["fileContent"]) == data
    # §2.5 in the short spelling deletes it
    deleted = client.post(DELETE_EXAM, json=delete_message(short(full))).json()
    assert deleted["code"] == 0 and deleted["data"][0]["succFlag"] == "1", deleted
    assert exams.exam_record(runtime.database, full) is None
    assert querier.post(QUERY_IMAGES, json=list_query(full)).json()["code"] != 0


def test_the_exam_keeps_the_spelling_it_was_first_saved_with(client: TestClient, querier: TestClient) -> None:  # noqa: F811
    record = person_record()
    first = short(record["hiImgIndx"])
    assert saved(client, {**record, "hiImgIndx": first})["succFlag"] == "1"
    assert saved(client, record)["succFlag"] == "1"
    found = querier.post(QUERY_INDEX, json=index_query(certno=record["certno"], psnName=None, begntime=None, endtime=None))
    assert [exam["hiImgIndx"] for exam in found.json()["data"]] == [first]


def test_mie_validate_says_which_spelling_is_canonical() -> None:
    record = person_record()
    report = validate_document(exam_message({**record, "hiImgIndx": short(record["hiImgIndx"])}), contract=CONTRACT)
    assert report.valid
    notes = [finding for finding in report.findings if "E-INDEX-SPELLING" in finding.message]
    assert len(notes) == 1 and notes[0].severity == "information", report.findings
    assert "'0' 与 '0000000000000'" in notes[0].message and "'0' 与 '000000000'" in notes[0].message
    canonical = validate_document(exam_message(record), contract=CONTRACT)
    assert canonical.findings and not [finding for finding in canonical.findings if "E-INDEX-SPELLING" in finding.message]


@pytest.fixture
def migrated(
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Runtime]:
    """A processor on a database made by the migrations (the suite's other fixtures make theirs with create_all)."""
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=database_url), recover=False)
    add_institution(runtime.database, INSTITUTION, KEY)
    try:
        yield runtime
    finally:
        runtime.database.dispose()


def test_exams_stored_twice_before_0005_are_merged_keeping_their_history(migrated: Runtime) -> None:
    """A database of revision 0003 holding one exam in both spellings (the second with a replaced version, a study, an
    instance and a report of its own) is upgraded: one exam under the first-saved index, every version in order."""
    runtime = migrated
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    record, other = person_record(), person_record()
    saved(client, record)
    saved(client, other)
    saved(client, {**other, "psnName": "第二版"})
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(record)).json()["code"] == 0
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(other)).json()["code"] == 0
    mine, theirs = make_instance(record["studyUid"]), make_instance(other["studyUid"])
    assert upload_image(client, record, part10_bytes(mine), imageTotalNum="1").json()["code"] == 0
    assert upload_image(client, other, part10_bytes(theirs), imageTotalNum="1").json()["code"] == 0
    assert upload_report(client, record).json()["code"] == 0
    assert upload_report(client, other).json()["code"] == 0
    full = record["hiImgIndx"]
    with _migrating(runtime.database) as connection:
        command.downgrade(_config([], connection), "0003_instance_order")
    _respell(runtime, other["hiImgIndx"], short(full))  # as mie before the rule stored a resend in the other spelling
    with _migrating(runtime.database) as connection:
        command.upgrade(_config([], connection), "heads")

    exam = exams.exam_record(runtime.database, full)
    assert exams.exam_record(runtime.database, short(full)) is None
    assert exam is not None and exam.version == 3 and exam.record["psnName"] == "第二版" and exam.index_key == full
    history = exams.exam_history(runtime.database, full)
    assert [(row.version, row.record["psnName"]) for row in history] == [(1, record["psnName"]), (2, other["psnName"])]
    assert history[0].replaced_at == history[1].received_at
    assert [(report.hi_img_indx, report.version) for report in reports(runtime)] == [(full, 1), (full, 2)]
    register_querier(runtime)
    querier = client_at(runtime, ALLOWED)  # noqa: F811
    assert sorted(listed(querier, short(full))) == sorted([str(mine.SOPInstanceUID), str(theirs.SOPInstanceUID)])
    found = querier.post(QUERY_INDEX, json=index_query(certno=record["certno"], psnName=None, begntime=None, endtime=None))
    assert [item["hiImgIndx"] for item in found.json()["data"]] == [full]
    # a resend in either spelling is the merged exam's next version
    assert "第 4 版" in saved(client, {**record, "hiImgIndx": short(full)})["message"]


def _respell(runtime: Runtime, old: str, new: str) -> None:
    """Every row of exam `old` under the index `new` (children re-inserted after their parent: foreign keys)."""
    metadata = MetaData()
    with runtime.database.engine.begin() as connection:
        metadata.reflect(connection, only=["exam_record", "setl_info", "study"])
        parent, children = metadata.tables["exam_record"], [metadata.tables["setl_info"], metadata.tables["study"]]
        kept = {table.name: [dict(row._mapping) for row in connection.execute(select(table).where(table.c.hi_img_indx == old))]
                for table in [parent, *children]}  # fmt: skip
        for table in children:
            connection.execute(table.delete().where(table.c.hi_img_indx == old))
        connection.execute(parent.delete().where(parent.c.hi_img_indx == old))
        for table in [parent, *children]:
            for row in kept[table.name]:
                if table is parent:
                    row["record"] = {**row["record"], "hiImgIndx": new}
                connection.execute(table.insert().values({**row, "hi_img_indx": new}))
        reflected = MetaData()
        reflected.reflect(connection, only=["exam_record_history", "instance", "report"])
        for table in reflected.tables.values():
            connection.execute(update(table).where(table.c.hi_img_indx == old).values(hi_img_indx=new))
