# ruff: noqa: F811 (the fixtures imported from tests.objectstore are named again as parameters)
"""Images and reports in an S3-compatible bucket (`mie serve --object-store`), against a real S3 server (SeaweedFS,
started by tests/objectstore.py): the storage area's promises, ingest by C-STORE and §2.2, §2.7/§2.8 from the
bucket, and what happens while the store is down: refusals (C-STORE 0xA700, HTTP 503 in the envelope), no
acknowledged instance lost, nothing half-written listed, and the same push stored once the store is back.
"""

from __future__ import annotations

import html
import io
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pynetdicom import AE
from starlette.testclient import TestClient

from mie.dicom.scp import OUT_OF_RESOURCES, StorageSCP
from mie.runtime import Runtime
from mie.service.ingest import header_of, relative_path
from mie.service.links import Page
from mie.service.pending import expire, list_pending
from mie.store import objects
from mie.store.files import FileStore, Spooled, StorageUnavailable
from mie.store.objects import S3Area, parse_url
from mie.store.pending import all_held
from mie.web.app import create_app
from tests.conftest import SAVE_EXAM, exam_message, img_info_message
from tests.dicom_files import make_instance, md5, part10_bytes, write
from tests.objectstore import SeaweedFS, object_store, s3_runtime, seaweedfs  # noqa: F401 (fixtures)
from tests.page_data import pdf, store_ct_series, store_exam, store_report
from tests.retrieval_helpers import (
    ALLOWED,
    QUERY_IMAGES,
    client_at,
    fetch_query,
    file_content,
    list_query,
    person_record,
    register_querier,
)
from tests.test_dicom_scp import CALLING_AE, dcmtk, pynetdicom_send, running_scp, stored_instances
from tests.test_images_http import headers, upload
from tests.test_pages import link, token_of


def test_the_storage_area_puts_with_md5_in_parts_reads_ranges_and_refuses_a_wrong_body(
    object_store: str, seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket, prefix = parse_url(object_store)
    store = FileStore(tmp_path, S3Area(bucket, prefix))
    sent: list[Any] = []  # every put's and part's request as it goes out
    for operation in ("PutObject", "UploadPart"):
        store.area.client.meta.events.register(f"before-send.s3.{operation}", lambda request, **_: sent.append(request))
    data = os.urandom(3 * 1024 * 1024 + 7)
    spooled = store.spool_bytes([data])
    store.commit(spooled, Path("dicom/1.2/3.4/5.6.dcm"))
    store.discard(spooled)  # copied, not moved: the caller discards its spooled file, as after a local commit
    with store.open_stored(Path("dicom/1.2/3.4/5.6.dcm")) as stored:
        assert stored.size == len(data)
        stored.seek(1_000_000)
        assert stored.read(10) == data[1_000_000:1_000_010]  # a ranged GET from there
        stored.seek(5)
        assert stored.read() == data[5:]
    # above PART_SIZE: in parts, each with its Content-MD5, read from the spool one part at a time
    monkeypatch.setattr(objects, "PART_SIZE", 5 * 1024 * 1024)  # S3's smallest part
    large = os.urandom(12 * 1024 * 1024)
    spooled = store.spool_bytes([large])
    store.commit(spooled, Path("dicom/1.2/3.4/7.8.dcm"))
    store.discard(spooled)
    with store.open_stored(Path("dicom/1.2/3.4/7.8.dcm")) as stored:
        assert (stored.size, md5(stored.read())) == (len(large), md5(large))
    # a body that is not the MD5 the spool computed is refused by the store, whole or in parts
    # (whole: the store's own refusal of the Content-MD5; in parts: each part's is right, the upload is not completed)
    for body, refusal in ((data, "BadDigest"), (large, "与收到的文件不符")):
        spooled = store.spool_bytes([body])
        wrong = Spooled(spooled.path, spooled.size, md5(body + b"x"))
        with pytest.raises(StorageUnavailable, match=refusal):
            store.commit(wrong, Path("dicom/1.2/3.4/9.9.dcm"))
        store.discard(spooled)
    # the body is not hashed for the signature (the endpoint is plain HTTP): its integrity is the signed Content-MD5's
    assert len(sent) == 8  # 1 whole and 3 parts stored, 1 whole refused, 3 parts of an upload aborted
    for request in sent:
        assert request.headers["X-Amz-Content-SHA256"] == b"UNSIGNED-PAYLOAD"
        assert "content-md5" in request.headers["Authorization"].decode().split("SignedHeaders=")[1].split(",")[0]
    assert sorted(store.area.names("dicom")) == [Path("dicom/1.2/3.4/5.6.dcm"), Path("dicom/1.2/3.4/7.8.dcm")]
    assert set(seaweedfs.objects(bucket)) == {f"{prefix}dicom/1.2/3.4/5.6.dcm", f"{prefix}dicom/1.2/3.4/7.8.dcm"}
    store.remove(Path("dicom/1.2/3.4/5.6.dcm"))
    with pytest.raises(FileNotFoundError):
        store.open_stored(Path("dicom/1.2/3.4/5.6.dcm"))
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.fixture
def s3_scp(s3_runtime: Runtime) -> Iterator[StorageSCP]:
    with running_scp(s3_runtime) as server:
        yield server


@pytest.fixture
def s3_client(s3_runtime: Runtime) -> TestClient:
    return TestClient(create_app(s3_runtime), raise_server_exceptions=False)


@pytest.fixture
def querier(s3_runtime: Runtime) -> TestClient:
    """Another institution's §2.7/§2.8 client, from an address it is allowed to query from."""
    register_querier(s3_runtime)
    return client_at(s3_runtime, ALLOWED)


def registered_exam(client: TestClient, total: int) -> dict[str, Any]:
    record = person_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(record, total=total)).json()["code"] == 0
    return record


def listed(client: TestClient, index: str) -> list[dict[str, str]]:
    """§2.7: the instances the exam lists."""
    answer = client.post(QUERY_IMAGES, json=list_query(index)).json()
    assert answer["code"] == 0, answer
    return answer["data"]["imgFileSnList"] or []


def fetched(client: TestClient, index: str, file_sn: dict[str, str]) -> bytes:
    answer = client.post(QUERY_IMAGES, json=fetch_query(index, file_sn)).json()
    assert answer["code"] == 0, answer
    return file_content(answer)


def assert_bucket_agrees_with_rows(runtime: Runtime, seaweedfs: SeaweedFS) -> None:
    """Every row's object is in the bucket with the row's size and MD5; the data directory holds no image."""
    area = runtime.store.area
    assert isinstance(area, S3Area)
    objects_there = seaweedfs.objects(area.bucket)
    for row in stored_instances(runtime).values():
        assert objects_there.get(area.prefix + row.path) == row.size, row.path
        with runtime.store.open_stored(Path(row.path)) as stored:
            assert md5(stored.read()) == row.md5
    assert not (runtime.settings.data_dir / "dicom").exists()
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


def test_c_store_and_save_img_file_go_to_the_bucket_and_come_back_by_2_7_and_2_8(
    s3_runtime: Runtime, s3_scp: StorageSCP, s3_client: TestClient, querier: TestClient, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    record = registered_exam(s3_client, total=3)
    pushed = [make_instance(record["studyUid"], kind=kind) for kind in ("ct", "mr")]
    command = [dcmtk("storescu"), "-aet", CALLING_AE, "-aec", "MIE", "127.0.0.1", str(s3_scp.port)]
    files = [str(write(ds, tmp_path)) for ds in pushed]
    result = subprocess.run([*command, *files], capture_output=True, text=True, env={**os.environ, "TCP_NODELAY": "1"})
    assert result.returncode == 0 and not result.stderr, result.stderr
    uploaded = make_instance(record["studyUid"])
    data = part10_bytes(uploaded)
    head = headers()
    assert upload(s3_client, record, data, head=head, imageTotalNum="3").json()["code"] == 0

    rows = stored_instances(s3_runtime)
    assert set(rows) == {ds.SOPInstanceUID for ds in [*pushed, uploaded]}
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)
    listing = listed(querier, record["hiImgIndx"])
    assert {item["instUuid"] for item in listing} == set(rows)
    for item in listing:
        assert md5(fetched(querier, record["hiImgIndx"], item)) == rows[item["instUuid"]].md5
    assert fetched(querier, record["hiImgIndx"], next(i for i in listing if i["instUuid"] == uploaded.SOPInstanceUID)) == data


def test_with_the_store_down_pushes_are_refused_and_stored_once_it_is_back(
    s3_runtime: Runtime, s3_scp: StorageSCP, s3_client: TestClient, querier: TestClient, seaweedfs: SeaweedFS
) -> None:
    record = registered_exam(s3_client, total=2)
    by_dicom, by_http = make_instance(record["studyUid"]), make_instance(record["studyUid"])
    data = part10_bytes(by_http)
    head = headers()
    seaweedfs.stop_gateway()
    try:
        assert pynetdicom_send(s3_scp.port, by_dicom) == [OUT_OF_RESOURCES]
        refused = upload(s3_client, record, data, head=head)
        assert refused.status_code == 503 and refused.json()["code"] == 5003 and refused.json()["type"] == "error"
        assert listed(querier, record["hiImgIndx"]) == []  # §2.7 reads the database: it answers, listing nothing
    finally:
        seaweedfs.start_gateway()
    assert stored_instances(s3_runtime) == {}
    assert pynetdicom_send(s3_scp.port, by_dicom) == [0]
    assert upload(s3_client, record, data, head=head).json()["code"] == 0  # the same message, msgid and all
    assert set(stored_instances(s3_runtime)) == {by_dicom.SOPInstanceUID, by_http.SOPInstanceUID}
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)


def test_the_store_stopping_mid_push_loses_no_acknowledged_instance_and_fakes_no_success(
    s3_runtime: Runtime, s3_scp: StorageSCP, s3_client: TestClient, querier: TestClient, seaweedfs: SeaweedFS
) -> None:
    count = 60
    record = registered_exam(s3_client, total=count)
    datasets = [make_instance(record["studyUid"], kind="mr") for _ in range(count)]
    statuses: dict[str, int] = {}

    def push() -> None:
        ae = AE(ae_title=CALLING_AE)
        ae.add_requested_context(datasets[0].SOPClassUID, datasets[0].file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", s3_scp.port, ae_title="MIE")
        try:
            for ds in datasets:
                statuses[ds.SOPInstanceUID] = int(assoc.send_c_store(ds).Status)
        finally:
            assoc.release()

    sender = threading.Thread(target=push)
    sender.start()
    try:
        while len(statuses) < 10 and sender.is_alive():
            time.sleep(0.01)
        seaweedfs.stop_gateway()  # mid-push: instances on their way to the store, and more coming
        while not any(status != 0 for status in statuses.values()) and sender.is_alive():
            time.sleep(0.05)
    finally:
        seaweedfs.start_gateway()
    sender.join(timeout=300)
    assert len(statuses) == count
    acknowledged = {uid for uid, status in statuses.items() if status == 0}
    failed = set(statuses) - acknowledged
    assert acknowledged and failed, statuses  # the outage fell within the push
    assert {statuses[uid] for uid in failed} == {OUT_OF_RESOURCES}
    # every acknowledged instance is stored, whole; no refused one is listed
    assert set(stored_instances(s3_runtime)) == acknowledged
    assert {item["instUuid"] for item in listed(querier, record["hiImgIndx"])} == acknowledged
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)
    # the same push again: the refused ones are stored, the others found stored
    assert pynetdicom_send(s3_scp.port, *datasets) == [0] * count
    assert set(stored_instances(s3_runtime)) == set(statuses)
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)


def test_the_pages_read_reports_and_images_from_the_bucket(
    s3_runtime: Runtime, s3_client: TestClient, seaweedfs: SeaweedFS
) -> None:
    exam = store_exam(s3_client)
    first, second = pdf("version one"), pdf("version two")
    store_report(s3_client, exam, first)
    store_report(s3_client, exam, second)
    exam = store_ct_series(s3_client, exam, count=2)
    area = s3_runtime.store.area
    assert isinstance(area, S3Area)
    assert sum(key.startswith(f"{area.prefix}reports/") for key in seaweedfs.objects(area.bucket)) == 2
    assert not (s3_runtime.settings.data_dir / "reports").exists() and not (s3_runtime.settings.data_dir / "dicom").exists()
    page = s3_client.get(link(s3_runtime, Page.report, exam)).text
    bodies = [s3_client.get("/mie/report/" + html.unescape(source)) for source in re.findall(r'href="(pdf\?t=[^"]+)"', page)]
    assert [(answer.status_code, answer.headers["content-type"]) for answer in bodies] == [(200, "application/pdf")] * 2
    assert [answer.content for answer in bodies] == [second, first]
    token = token_of(link(s3_runtime, Page.image, exam))
    for sop in exam.sop_uids:  # rendered from the object, read through its stream (pydicom seeks in it)
        png = s3_client.get("/mie/image/render", params={"t": token, "sop": sop, "frame": 0})
        assert png.status_code == 200 and png.headers["content-type"] == "image/png", png.text[:200]
        assert np.asarray(Image.open(io.BytesIO(png.content))).std() > 5


def test_recovery_registers_again_an_object_whose_row_was_lost_and_removes_what_no_row_knows(
    s3_runtime: Runtime, s3_client: TestClient, seaweedfs: SeaweedFS
) -> None:
    """As on the local store (tests/test_dicom_scp.py): an instance put (under its attempt's name) whose row did not
    survive is registered again from the bucket; an object that is not an instance of a registered study is
    removed; the rows' objects stay."""
    record = registered_exam(s3_client, total=3)
    kept = make_instance(record["studyUid"])
    assert upload(s3_client, record, part10_bytes(kept), head=headers(), imageTotalNum="3").json()["code"] == 0

    def put_without_row(ds: pydicom.Dataset) -> Path:
        spooled = s3_runtime.store.spool_bytes([part10_bytes(ds)])
        staged = s3_runtime.store.stage(spooled, relative_path(header_of(ds, str(ds.file_meta.TransferSyntaxUID))))
        s3_runtime.store.discard(spooled)
        return staged.name

    lost = make_instance(record["studyUid"])
    lost_name = put_without_row(lost)
    stray_name = put_without_row(make_instance("1.2.826.0.1.3680043.8.498.99"))
    area = s3_runtime.store.area
    assert isinstance(area, S3Area)
    seaweedfs.client().put_object(Bucket=area.bucket, Key=f"{area.prefix}dicom/{record['studyUid']}/1.2.3/1.2.3.5.dcm", Body=b"x")
    everything = seaweedfs.objects(area.bucket)

    # the bucket is shared by every process: an object younger than the grace may be another's put in flight
    s3_runtime.recover()
    assert seaweedfs.objects(area.bucket) == everything
    assert set(stored_instances(s3_runtime)) == {kept.SOPInstanceUID}

    area.recovery_grace = 0  # as if the grace had passed
    s3_runtime.recover()

    rows = stored_instances(s3_runtime)
    assert set(rows) == {kept.SOPInstanceUID, lost.SOPInstanceUID}
    assert (rows[lost.SOPInstanceUID].source, rows[lost.SOPInstanceUID].path) == ("recovered", lost_name.as_posix())
    assert {key.removeprefix(area.prefix) for key in seaweedfs.objects(area.bucket)} == {row.path for row in rows.values()}
    assert stray_name.as_posix() not in {row.path for row in rows.values()}
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)


def test_an_object_store_that_is_not_an_s3_url_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mie.cli import main

    assert main(["serve", "--data-dir", str(tmp_path), "--object-store", "http://bucket/mie", "--dicom-port", "0"]) == 2
    assert "--object-store takes s3://BUCKET[/PREFIX]" in capsys.readouterr().err


def test_an_instance_pushed_before_its_registration_waits_in_the_bucket_then_comes_back_or_goes(
    s3_runtime: Runtime, s3_scp: StorageSCP, s3_client: TestClient, querier: TestClient, seaweedfs: SeaweedFS
) -> None:
    """ERRATA E-UNASSIGNED-INSTANCE on the object store: a pending instance's object is put and confirmed before the
    C-STORE is answered; §2.3 attaches it (the object stays where it is) and §2.8 returns it; one left unattached is
    removed from the bucket when it expires."""
    record = person_record()
    assert s3_client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    early, stray = make_instance(record["studyUid"], accession="EARLY"), make_instance("1.2.826.0.1.3680043.8.498.5")
    assert pynetdicom_send(s3_scp.port, early, stray) == [0, 0]
    area = s3_runtime.store.area
    assert isinstance(area, S3Area)
    held = {item.sop_instance_uid: item for item in list_pending(s3_runtime.database, 7)}
    assert set(held) == {early.SOPInstanceUID, stray.SOPInstanceUID} and stored_instances(s3_runtime) == {}
    with s3_runtime.database.reading() as repository:
        paths = {row.sop_instance_uid: row.path for row in all_held(repository)}
    assert all(area.prefix + path in seaweedfs.objects(area.bucket) for path in paths.values())
    assert listed(querier, record["hiImgIndx"]) == []

    registered = img_info_message(record, accession="EARLY", total=1)
    assert s3_client.post("/mie/api/mie/saveImgInfo", json=registered).json()["code"] == 0
    [item] = listed(querier, record["hiImgIndx"])
    row = stored_instances(s3_runtime)[early.SOPInstanceUID]
    assert item["instUuid"] == early.SOPInstanceUID and row.path == paths[early.SOPInstanceUID]
    assert md5(fetched(querier, record["hiImgIndx"], item)) == row.md5
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)

    [removed] = expire(s3_runtime.database, s3_runtime.store, 7, now=datetime.now(UTC) + timedelta(days=8))
    assert removed.sop_instance_uid == stray.SOPInstanceUID
    assert area.prefix + paths[stray.SOPInstanceUID] not in seaweedfs.objects(area.bucket)
    assert_bucket_agrees_with_rows(s3_runtime, seaweedfs)
