"""Done when (issue 7): what came in through §2.1, §2.3 + DICOM C-STORE (dcmtk storescu, compressed syntaxes
included) and §2.2 comes back through §2.6 -> §2.7 -> §2.8, every instance byte for byte, asked for exactly as
the document's examples ask (no key, the document's caller, from an address in its allow-list)."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from starlette.testclient import TestClient

from mie.dicom.scp import StorageSCP
from mie.runtime import Runtime
from mie.service.institutions import add_institution
from tests.conftest import INSTITUTION, KEY, SAVE_EXAM, exam_message, img_info_message
from tests.dicom_files import CORPUS, dataset_bytes, make_instance, md5, part10_bytes, write
from tests.retrieval_helpers import (
    ALLOWED,
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
from tests.test_dicom_scp import CALLING_AE, STORESCU_CFG, dcmtk
from tests.test_images_http import upload

CERTNO = "11010119880405003X"


@pytest.fixture
def scp(runtime: Runtime) -> Iterator[StorageSCP]:
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    server = StorageSCP(runtime, "127.0.0.1", 0, "MIE")
    server.start()
    yield server
    server.stop()


def test_dicom_and_http_uploads_come_back_byte_for_byte(
    client: TestClient, runtime: Runtime, scp: StorageSCP, tmp_path: Path
) -> None:
    register_querier(runtime)
    # §2.1: two exams of one person; the check character typed lower-case in one of them
    by_dicom = person_record(CERTNO, psnName="John Doe", examDate="2024-11-22")
    by_http = person_record(CERTNO.lower(), psnName="John Doe", examDate="2025-01-15")
    assert client.post(SAVE_EXAM, json=exam_message(by_dicom, by_http)).json()["code"] == 0

    # §2.3 + C-STORE: every kind of the corpus, compressed syntaxes included, pushed by dcmtk's storescu
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(by_dicom, total=len(CORPUS))).json()["code"] == 0
    pushed = {kind: write(make_instance(by_dicom["studyUid"], kind=kind), tmp_path) for kind in CORPUS}
    command = [dcmtk("storescu"), "-aet", CALLING_AE, "-aec", "MIE", "-xf", str(STORESCU_CFG), "MieTest", "127.0.0.1"]
    result = subprocess.run(
        [*command, str(scp.port), *map(str, pushed.values())], capture_output=True, text=True, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr

    # §2.2: two files over HTTP
    posted = [part10_bytes(make_instance(by_http["studyUid"], kind=kind)) for kind in ("ct", "jpeg2000")]
    for data in posted:
        assert upload(client, by_http, data, imageTotalNum="2").json()["code"] == 0

    # §2.6, as the document asks
    querier = client_at(runtime, ALLOWED)
    answer = querier.post(QUERY_INDEX, json=index_query(psnName="John Doe", certno=CERTNO, begntime=None, endtime=None)).json()
    assert schema_errors("IndexListResponse", answer) == []
    assert [item["hiImgIndx"] for item in answer["data"]] == [by_http["hiImgIndx"], by_dicom["hiImgIndx"]]

    # §2.7 and §2.8 for each exam the query found
    fetched: dict[str, bytes] = {}
    for item in answer["data"]:
        listing = querier.post(QUERY_IMAGES, json=list_query(item["hiImgIndx"])).json()
        assert schema_errors("ImgCaheResponse", listing) == []
        for file_sn in listing["data"]["imgFileSnList"]:
            image = querier.post(QUERY_IMAGES, json=fetch_query(item["hiImgIndx"], file_sn)).json()
            assert schema_errors("ImgCaheResponse", image) == [] and image["data"]["hiImgIndx"] == item["hiImgIndx"]
            fetched[file_sn["instUuid"]] = file_content(image)

    rows = stored_rows(runtime)
    assert set(fetched) == set(rows) and len(fetched) == len(CORPUS) + len(posted)
    for uid, data in fetched.items():
        assert md5(data) == rows[uid]["md5"] == md5((runtime.settings.data_dir / rows[uid]["path"]).read_bytes())
    for data in posted:  # §2.2: the very file uploaded
        assert md5(fetched[sop_instance_uid(data)]) == md5(data)
    for kind, path in pushed.items():  # C-STORE: the data set exactly as sent, behind the file meta mie wrote
        uid = sop_instance_uid(path.read_bytes())
        returned = tmp_path / f"returned-{kind}.dcm"
        returned.write_bytes(fetched[uid])
        assert dataset_bytes(returned) == dataset_bytes(path), kind
        meta = pydicom.dcmread(returned, stop_before_pixels=True).file_meta
        assert meta.TransferSyntaxUID == pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID, kind


def sop_instance_uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)


def stored_rows(runtime: Runtime) -> dict[str, dict[str, Any]]:
    from sqlalchemy import select

    from mie.store.tables import Instance

    table = Instance.__table__  # type: ignore[attr-defined]
    with runtime.database.engine.connect() as connection:
        return {row.sop_instance_uid: dict(row._mapping) for row in connection.execute(select(table))}
