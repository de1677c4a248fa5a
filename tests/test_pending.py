"""Instances pushed before their study is registered (issue 15, point 7; ERRATA E-UNASSIGNED-INSTANCE): a real
C-STORE from a registered AE is acknowledged once stored, kept pending and served to nobody (§2.7, §2.8, QIDO,
WADO), attached when §2.1 or §2.3 of its institution names its study and accession, then listed and fetched like
any instance; `mie pending` lists what waits, and what waits too long is removed with an audit event."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydicom
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mie.cli import main
from mie.config import Settings
from mie.contract import current
from mie.dicom.scp import StorageSCP
from mie.runtime import Runtime
from mie.service.ingest import ingest_received
from mie.service.institutions import add_institution
from mie.service.links import Page, page_url
from mie.service.pending import EXPIRED, Sweeper, attach, expire, list_pending
from mie.store.tables import AuditEvent
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY, SAVE_EXAM, exam_message, img_info_message
from tests.dicom_files import dataset_bytes, make_instance, md5, part10_bytes, write
from tests.retrieval_helpers import ALLOWED, QUERY_IMAGES, client_at, fetch_query, person_record, register_querier
from tests.test_dicom_scp import CALLING_AE, pynetdicom_send, running_scp, stored_instances
from tests.test_images_http import headers, upload
from tests.test_object_store import fetched, listed

SAVE_IMG_INFO = "/mie/api/mie/saveImgInfo"
CONFLICT = 0xC002


@pytest.fixture
def scp(runtime: Runtime) -> Iterator[StorageSCP]:
    with running_scp(runtime) as server:
        yield server


@pytest.fixture
def querier(runtime: Runtime) -> TestClient:
    register_querier(runtime)
    return client_at(runtime, ALLOWED)


def pending_uids(runtime: Runtime, days: float = 7) -> set[str]:
    return {item.sop_instance_uid for item in list_pending(runtime.database, days)}


def audit_events(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.database.session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).scalars())  # type: ignore[call-overload]


def instance_path(ds: pydicom.Dataset) -> str:
    return f"studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


def assert_served_to_nobody(runtime: Runtime, client: TestClient, querier: TestClient, index: str, ds: pydicom.Dataset) -> None:
    """Neither §2.7 nor §2.8 (asked under the exam it will belong to) nor DICOMweb (asked by its own sender) reach it."""
    assert str(ds.SOPInstanceUID) not in {item["instUuid"] for item in listed(querier, index)}
    file_sn = {"examUuid": str(ds.StudyInstanceUID), "snUuid": str(ds.SeriesInstanceUID), "instUuid": str(ds.SOPInstanceUID)}
    answer = querier.post(QUERY_IMAGES, json=fetch_query(index, file_sn)).json()
    assert answer["code"] == 3009 and "fileContent" not in json.dumps(answer), answer  # not an instance of the exam
    auth = (INSTITUTION, KEY)
    qido = client.get("/dicom-web/studies", params={"StudyInstanceUID": str(ds.StudyInstanceUID)}, auth=auth)
    assert qido.status_code in (200, 204) and (qido.status_code == 204 or qido.json() == [])
    instances = client.get(f"/dicom-web/studies/{ds.StudyInstanceUID}/instances", auth=auth)
    assert instances.status_code in (200, 204) and (instances.status_code == 204 or instances.json() == [])
    wado = f"/dicom-web/{instance_path(ds)}"
    assert client.get(wado, auth=auth, headers={"Accept": "application/dicom"}).status_code == 404
    assert client.get(f"{wado}/metadata", auth=auth).status_code == 404
    # the exam's image page and its link's DICOMweb root
    token = runtime.links.issue(Page.image, index, OTHER_INSTITUTION)
    page = client.get(page_url("", Page.image, token))
    assert page.status_code == 200 and str(ds.SOPInstanceUID) not in page.text
    root = runtime.links.issue(Page.dicomweb, index, OTHER_INSTITUTION)
    linked = client.get(f"/dicom-web/t/{root}/{instance_path(ds)}", headers={"Accept": "application/dicom"})
    assert linked.status_code == 404


def assert_fetched_as_sent(runtime: Runtime, querier: TestClient, index: str, sent: list[pydicom.Dataset]) -> None:
    """§2.7 lists exactly these, and §2.8 returns each as stored: the data set as sent, its pixels the same."""
    items = {item["instUuid"]: item for item in listed(querier, index)}
    assert set(items) == {str(ds.SOPInstanceUID) for ds in sent}
    rows = stored_instances(runtime)
    for ds in sent:
        data, row = fetched(querier, index, items[str(ds.SOPInstanceUID)]), rows[str(ds.SOPInstanceUID)]
        assert md5(data) == row.md5 == md5(runtime.store.path(Path(row.path)).read_bytes())
        returned = pydicom.dcmread(io.BytesIO(data))
        assert (returned.SOPInstanceUID, returned.StudyInstanceUID) == (ds.SOPInstanceUID, ds.StudyInstanceUID)
        assert returned.PixelData == ds.PixelData


def test_instances_sent_before_their_2_1_are_kept_then_attached_and_fetched(
    scp: StorageSCP, runtime: Runtime, client: TestClient, querier: TestClient, tmp_path: Path
) -> None:
    record = person_record(accessionNumber="ACC-21")
    sent = [make_instance(record["studyUid"], accession="ACC-21", kind=kind) for kind in ("ct", "mr", "jpeg2000")]
    assert pynetdicom_send(scp.port, *sent) == [0, 0, 0]  # acknowledged: stored, and pending
    assert stored_instances(runtime) == {}
    assert pending_uids(runtime) == {str(ds.SOPInstanceUID) for ds in sent}
    [listed_one, *_] = list_pending(runtime.database, 7)
    assert (listed_one.institution_code, listed_one.calling_ae) == (INSTITUTION, CALLING_AE)
    assert listed_one.study_uid == record["studyUid"]
    assert listed_one.accession_number == "ACC-21" and listed_one.expires_at - listed_one.received_at == timedelta(days=7)

    # the exam exists for another study: still nobody's
    other = person_record(accessionNumber="ACC-21")
    assert client.post(SAVE_EXAM, json=exam_message(other)).json()["code"] == 0
    for ds in sent:
        assert_served_to_nobody(runtime, client, querier, other["hiImgIndx"], ds)

    # §2.1 names the study and the accession number: attached in its own transaction, and said so
    answer = client.post(SAVE_EXAM, json=exam_message(record)).json()
    assert answer["code"] == 0 and "已关联此前经 DICOM 收到的 3 张影像" in answer["data"][0]["message"], answer
    assert pending_uids(runtime) == set()
    rows = stored_instances(runtime)
    assert {row.hi_img_indx for row in rows.values()} == {record["hiImgIndx"]} and len(rows) == 3
    assert {(row.source, row.calling_ae) for row in rows.values()} == {("dicom", CALLING_AE)}
    assert_fetched_as_sent(runtime, querier, record["hiImgIndx"], sent)
    # DICOMweb reaches them now, by their sender's root
    qido = client.get("/dicom-web/studies", params={"StudyInstanceUID": record["studyUid"]}, auth=(INSTITUTION, KEY))
    assert qido.status_code == 200 and len(qido.json()) == 1
    metadata = client.get(f"/dicom-web/studies/{record['studyUid']}/metadata", auth=(INSTITUTION, KEY))
    assert metadata.status_code == 200 and {item["00080018"]["Value"][0] for item in metadata.json()} == set(rows)
    assert len(audit_events(runtime, "pending-attached")) == 3
    token = runtime.links.issue(Page.image, record["hiImgIndx"], OTHER_INSTITUTION)
    assert all(str(ds.SOPInstanceUID) in client.get(page_url("", Page.image, token)).text for ds in sent)
    root = runtime.links.issue(Page.dicomweb, record["hiImgIndx"], OTHER_INSTITUTION)
    linked = client.get(f"/dicom-web/t/{root}/{instance_path(sent[0])}", headers={"Accept": "application/dicom"})
    assert linked.status_code == 200 and str(sent[0].SOPInstanceUID).encode() in linked.content

    # later pushes of the study go straight to the exam: §2.1 registered it
    later = make_instance(record["studyUid"], accession="ACC-21")
    assert pynetdicom_send(scp.port, later) == [0]
    assert stored_instances(runtime)[str(later.SOPInstanceUID)].hi_img_indx == record["hiImgIndx"]


def test_instances_sent_before_their_2_3_are_attached_by_it_and_fetched(
    scp: StorageSCP, runtime: Runtime, client: TestClient, querier: TestClient, tmp_path: Path
) -> None:
    record = person_record()  # its §2.1 names the study with the document's accession, not the one the files carry
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    sent = [make_instance(record["studyUid"], accession="LATE-1") for _ in range(2)]
    assert pynetdicom_send(scp.port, *sent) == [0, 0]
    assert stored_instances(runtime) == {} and len(pending_uids(runtime)) == 2
    for ds in sent:
        assert_served_to_nobody(runtime, client, querier, record["hiImgIndx"], ds)

    answer = client.post(SAVE_IMG_INFO, json=img_info_message(record, accession="LATE-1,LATE-2", total=3)).json()
    assert answer["code"] == 0, answer
    message = answer["data"][0]["message"]
    assert "已关联此前经 DICOM 收到的 2 张影像" in message and "本检查已收到 2/3 张" in message
    assert pending_uids(runtime) == set()
    assert_fetched_as_sent(runtime, querier, record["hiImgIndx"], sent)


def test_an_instance_of_another_institution_or_accession_stays_pending(
    scp: StorageSCP, runtime: Runtime, client: TestClient, querier: TestClient
) -> None:
    """Only a registration of the sender's own institution that names study and accession attaches."""
    record = person_record(accessionNumber="ACC-A")
    wrong_accession = make_instance(record["studyUid"], accession="ACC-B")
    assert pynetdicom_send(scp.port, wrong_accession) == [0]
    # the same study registered by another institution: not the sender's
    foreign = dict(record, hiImgIndx=person_record()["hiImgIndx"], fixmedinsCode=OTHER_INSTITUTION)
    assert client.post(SAVE_EXAM, json=exam_message(foreign, institution=OTHER_INSTITUTION, key=OTHER_KEY)).json()["code"] == 0
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    assert attach(runtime.database) == 0
    assert pending_uids(runtime) == {str(wrong_accession.SOPInstanceUID)}
    assert_served_to_nobody(runtime, client, querier, record["hiImgIndx"], wrong_accession)


def test_the_same_instance_again_is_stored_once_and_other_content_is_a_conflict(scp: StorageSCP, runtime: Runtime) -> None:
    ds = make_instance("1.2.826.0.1.3680043.8.498.77")
    assert pynetdicom_send(scp.port, ds, ds) == [0, 0]
    assert pending_uids(runtime) == {str(ds.SOPInstanceUID)}
    changed = make_instance("1.2.826.0.1.3680043.8.498.77")
    changed.SOPInstanceUID, changed.SeriesInstanceUID = ds.SOPInstanceUID, ds.SeriesInstanceUID
    changed.PatientName = "Other^Content"
    assert pynetdicom_send(scp.port, changed) == [CONFLICT]
    [row] = list_pending(runtime.database, 7)
    stored = runtime.settings.data_dir / "dicom" / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    assert row.size == stored.stat().st_size and pydicom.dcmread(stored, stop_before_pixels=True).PatientName != "Other^Content"


def test_a_registration_whose_attach_a_crash_interrupted_is_attached_at_start_up(
    runtime: Runtime, client: TestClient, querier: TestClient, tmp_path: Path
) -> None:
    """The study registered, the pending rows still there (as a crash between the two would leave them, or a
    registration another process committed meanwhile): start-up recovery keeps their files and attaches them."""
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    record = person_record(accessionNumber="ACC-C")
    ds = make_instance(record["studyUid"], accession="ACC-C")
    data, syntax = dataset_bytes(write(ds, tmp_path)), str(ds.file_meta.TransferSyntaxUID)
    ingested = ingest_received(runtime.database, runtime.store, data, syntax, institution=INSTITUTION, calling_ae=CALLING_AE)
    assert ingested.pending and not ingested.duplicate
    with runtime.database.unit_of_work() as repository:  # §2.1's rows without its attach
        index_key = current().index.canonical(record["hiImgIndx"])
        repository.add_exam(
            {
                "hi_img_indx": record["hiImgIndx"],
                "index_key": index_key,
                "institution_code": INSTITUTION,
                "psn_cert_type": record["psnCertType"],
                "certno": record["certno"],
                "exam_date": record["examDate"],
                "study_uid": record["studyUid"],
                "msgid": "crash",
            },
            record,
            [],
        )
    assert pending_uids(runtime) == {str(ds.SOPInstanceUID)}
    runtime.recover()
    assert pending_uids(runtime) == set()
    assert_fetched_as_sent(runtime, querier, record["hiImgIndx"], [ds])


def test_what_waits_too_long_is_removed_with_an_audit_event(scp: StorageSCP, runtime: Runtime, client: TestClient) -> None:
    record = person_record(accessionNumber="ACC-X")
    ds = make_instance(record["studyUid"], accession="ACC-X")
    assert pynetdicom_send(scp.port, ds) == [0]
    [row] = list_pending(runtime.database, 7)
    stored = runtime.store.path(Path(f"dicom/{ds.StudyInstanceUID}/{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm"))
    assert stored.exists()
    now = datetime.now(UTC)
    assert expire(runtime.database, runtime.store, 7, now=now + timedelta(days=6)) == []  # not yet
    [removed] = expire(runtime.database, runtime.store, 7, now=now + timedelta(days=7, minutes=1))
    assert removed.sop_instance_uid == str(ds.SOPInstanceUID) and not stored.exists()
    assert pending_uids(runtime) == set()
    [event] = audit_events(runtime, EXPIRED)
    assert event.institution_code == INSTITUTION and f"instance={ds.SOPInstanceUID}" in (event.detail or "")
    # a registration after that finds nothing to attach; the instance is gone, not served
    answer = client.post(SAVE_EXAM, json=exam_message(record)).json()
    assert answer["code"] == 0 and "已关联" not in answer["data"][0]["message"]
    assert stored_instances(runtime) == {}


def test_mie_pending_lists_and_expires(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI over the same service: a tab-separated or JSON list, and --expire with a short --pending-days."""
    data_dir = tmp_path / "data"
    runtime = Runtime.open(Settings(data_dir=data_dir))
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    ds = make_instance("1.2.826.0.1.3680043.8.498.88", accession="ACC-CLI")
    data, syntax = dataset_bytes(write(ds, tmp_path)), str(ds.file_meta.TransferSyntaxUID)
    ingest_received(runtime.database, runtime.store, data, syntax, institution=INSTITUTION, calling_ae=CALLING_AE)
    runtime.database.dispose()

    assert main(["pending", "--data-dir", str(data_dir), "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["sop_instance_uid"] == str(ds.SOPInstanceUID) and shown["accession_number"] == "ACC-CLI"
    [stored] = (data_dir / "dicom").rglob("*.dcm")
    assert (shown["institution"], shown["calling_ae"], shown["size"]) == (INSTITUTION, CALLING_AE, stored.stat().st_size)
    assert datetime.fromisoformat(shown["expires_at"]) - datetime.fromisoformat(shown["received_at"]) == timedelta(days=7)
    assert main(["pending", "--data-dir", str(data_dir), "--expire", "--pending-days", "1"]) == 0
    out = capsys.readouterr()
    assert str(ds.SOPInstanceUID) in out.out and "0 removed" in out.err
    assert main(["pending", "--data-dir", str(data_dir), "--expire", "--pending-days", "0", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["pending"] == [] and [item["sop_instance_uid"] for item in answer["removed"]] == [str(ds.SOPInstanceUID)]
    assert not any((data_dir / "dicom").rglob("*.dcm"))


def test_stow_and_save_img_file_still_refuse_what_no_registration_names(runtime: Runtime, client: TestClient) -> None:
    """Only C-STORE waits: an HTTP sender names its index (§2.2) and can order its calls."""
    record = person_record()
    ds = make_instance(record["studyUid"])
    answer = upload(client, record, part10_bytes(ds), head=headers()).json()
    assert answer["code"] == 3006, answer  # 索引不存在或不属于本机构
    assert stored_instances(runtime) == {} and pending_uids(runtime) == set()


def test_the_servers_sweep_removes_what_is_overdue_and_attaches_what_is_registered(runtime: Runtime, client: TestClient) -> None:
    """`mie serve` runs the sweep at start and then every hour (here: every 0.05 s)."""
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    registered, overdue = person_record(accessionNumber="OTHER"), make_instance("1.2.826.0.1.3680043.8.498.99")
    assert client.post(SAVE_EXAM, json=exam_message(registered)).json()["code"] == 0
    kept = make_instance(registered["studyUid"], accession="ACC-S")
    for ds in (kept, overdue):
        data = dataset_bytes(write(ds, runtime.settings.data_dir.parent))
        syntax = str(ds.file_meta.TransferSyntaxUID)
        ingest_received(runtime.database, runtime.store, data, syntax, institution=INSTITUTION, calling_ae=CALLING_AE)
    with runtime.database.unit_of_work() as repository:  # as a registration that committed without its attach
        repository.register_study(registered["hiImgIndx"], registered["studyUid"], INSTITUTION, "ACC-S", 1)
    sweeper = Sweeper(runtime.database, runtime.store, days=0, every=0.05).start()
    try:
        deadline = time.monotonic() + 30
        while pending_uids(runtime) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert pending_uids(runtime) == set()
    assert set(stored_instances(runtime)) == {str(kept.SOPInstanceUID)}  # attached first, before any expiry
    [event] = audit_events(runtime, EXPIRED)
    assert f"instance={overdue.SOPInstanceUID}" in (event.detail or "")
