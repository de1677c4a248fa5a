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

from generated.models import ImgInfo, ResponseCode
from mie.client import MieClient
from mie.dicom.scp import StorageSCP
from mie.runtime import Runtime
from mie.service.institutions import add_institution
from tests.conftest import INSTITUTION, KEY
from tests.dicom_files import CORPUS, dataset_bytes, make_instance, md5, part10_bytes, write
from tests.retrieval_helpers import ALLOWED, as_received, person_record, querier_at, register_querier, schema_errors
from tests.test_dicom_scp import CALLING_AE, STORESCU_CFG, dcmtk

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
    sender = MieClient(institution=INSTITUTION, key=KEY, http=client)
    # §2.1: two exams of one person; the check character typed lower-case in one of them
    by_dicom = person_record(CERTNO, psnName="John Doe", examDate="2024-11-22")
    by_http = person_record(CERTNO.lower(), psnName="John Doe", examDate="2025-01-15")
    assert sender.save_exams([by_dicom, by_http]).code is ResponseCode.success

    # §2.3 + C-STORE: every kind of the corpus, compressed syntaxes included, pushed by dcmtk's storescu
    registered = sender.register_images([image_info(by_dicom, total=len(CORPUS))])
    assert registered.code is ResponseCode.success
    pushed = {kind: write(make_instance(by_dicom["studyUid"], kind=kind), tmp_path) for kind in CORPUS}
    command = [dcmtk("storescu"), "-aet", CALLING_AE, "-aec", "MIE", "-xf", str(STORESCU_CFG), "MieTest", "127.0.0.1"]
    result = subprocess.run(
        [*command, str(scp.port), *map(str, pushed.values())], capture_output=True, text=True, env={**os.environ}
    )
    assert result.returncode == 0, result.stderr

    # §2.2: two files over HTTP
    posted = [part10_bytes(make_instance(by_http["studyUid"], kind=kind)) for kind in ("ct", "jpeg2000")]
    for data in posted:
        uploaded = sender.upload_image(
            data, hi_img_indx=by_http["hiImgIndx"], study_uid=by_http["studyUid"], accession_number="114649960", image_total_num=2
        )
        assert uploaded.code is ResponseCode.success

    # §2.6, as the document asks (mie.client sends no key when it has none)
    querier = querier_at(runtime, ALLOWED)
    answer = querier.query_index({"psnName": "John Doe", "psnCertType": "111", "certno": CERTNO})
    assert schema_errors("IndexListResponse", as_received(answer)) == []
    assert [item.hi_img_indx for item in answer.data or []] == [by_http["hiImgIndx"], by_dicom["hiImgIndx"]]

    # §2.7 and §2.8 for each exam the query found
    fetched: dict[str, bytes] = {}
    for item in answer.data or []:
        listing = querier.list_images(item.hi_img_indx)
        assert schema_errors("ImgCaheResponse", as_received(listing)) == [] and listing.data
        for file_sn in listing.data.img_file_sn_list or []:
            image = querier.fetch_image(item.hi_img_indx, file_sn)
            assert schema_errors("ImgCaheResponse", as_received(image)) == []
            assert image.data and image.data.hi_img_indx == item.hi_img_indx and image.data.file_content is not None
            fetched[file_sn.inst_uuid] = image.data.file_content

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


def image_info(record: dict[str, Any], total: int) -> ImgInfo:
    return ImgInfo(
        hi_img_indx=record["hiImgIndx"], study_uid=record["studyUid"], accession_number="114649960", image_total_num=total
    )


def sop_instance_uid(data: bytes) -> str:
    return str(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True).SOPInstanceUID)


def stored_rows(runtime: Runtime) -> dict[str, dict[str, Any]]:
    from sqlalchemy import select

    from mie.store.tables import Instance

    table = Instance.__table__  # type: ignore[attr-defined]
    with runtime.database.engine.connect() as connection:
        return {row.sop_instance_uid: dict(row._mapping) for row in connection.execute(select(table))}
