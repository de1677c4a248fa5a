"""The DICOM SCP: dcmtk's echoscu/storescu and pynetdicom's SCU push real files; the same ingest as HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pynetdicom import AE
from sqlmodel import Session, select
from starlette.testclient import TestClient

from mie.dicom.scp import StorageSCP
from mie.runtime import Runtime
from mie.service.ingest import (
    STATUS_OF_REFUSAL,
    IngestRefused,
    header_of,
    ingest_received,
    ingest_spooled_received,
    receive_into_spool,
    relative_path,
)
from mie.service.institutions import add_institution
from mie.service.pending import list_pending
from mie.store.repository import Repository
from mie.store.tables import Instance
from tests.conftest import INSTITUTION, KEY, SAVE_EXAM, exam_message, exam_record, img_info_message
from tests.dicom_files import CORPUS, ORDER_COLUMNS, dataset_bytes, make_instance, md5, order_columns, with_numbers, write

CALLING_AE = "HOSPITAL_AE"
STORESCU_CFG = Path(__file__).parent / "data" / "storescu.cfg"
DCMTK = Path("/usr/bin")


def dcmtk(tool: str) -> str:
    path = DCMTK / tool
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"dcmtk's {tool} is required in CI (bin/test installs the Debian package dcmtk)")
        pytest.skip(f"dcmtk's {tool} is not installed here (Debian package dcmtk; bin/test installs it)")
    return str(path)


@contextmanager
def running_scp(runtime: Runtime) -> Iterator[StorageSCP]:
    """`runtime`'s SCP on a free port, the test institution registered with CALLING_AE."""
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    server = StorageSCP(runtime, "127.0.0.1", 0, "MIE")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scp(runtime: Runtime) -> Iterator[StorageSCP]:
    with running_scp(runtime) as server:
        yield server


@pytest.fixture
def study(client: TestClient) -> dict[str, Any]:
    """An exam with its study registered by saveImgInfo, ready for DICOM pushes."""
    record = exam_record()
    assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
    message = img_info_message(record, total=len(CORPUS))
    assert client.post("/mie/api/mie/saveImgInfo", json=message).json()["code"] == 0
    return record


def stored_instances(runtime: Runtime) -> dict[str, Instance]:
    with Session(runtime.database.engine) as session:
        return {row.sop_instance_uid: row for row in session.exec(select(Instance))}


def assert_database_agrees_with_disk(runtime: Runtime) -> None:
    rows = stored_instances(runtime)
    on_disk = {p.relative_to(runtime.settings.data_dir).as_posix() for p in (runtime.settings.data_dir / "dicom").rglob("*.dcm")}
    assert on_disk == {row.path for row in rows.values()}
    for row in rows.values():
        data = (runtime.settings.data_dir / row.path).read_bytes()
        assert (len(data), md5(data)) == (row.size, row.md5)


def test_echoscu_from_a_registered_ae_title(scp: StorageSCP) -> None:
    ok = subprocess.run([dcmtk("echoscu"), "-aet", CALLING_AE, "-aec", "MIE", "127.0.0.1", str(scp.port)], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    unknown = subprocess.run(
        [dcmtk("echoscu"), "-aet", "STRANGER", "-aec", "MIE", "127.0.0.1", str(scp.port)], capture_output=True
    )
    assert unknown.returncode != 0 and b"Rejected" in unknown.stderr + unknown.stdout


def test_storescu_pushes_ct_mr_and_compressed_files_stored_as_sent(
    scp: StorageSCP, runtime: Runtime, study: dict[str, Any], tmp_path: Path
) -> None:
    sent = {kind: write(make_instance(study["studyUid"], kind=kind), tmp_path) for kind in CORPUS}
    env = {**os.environ, "TCP_NODELAY": "1"}
    command = [
        dcmtk("storescu"),
        "-aet",
        CALLING_AE,
        "-aec",
        "MIE",
        "-xf",
        str(STORESCU_CFG),
        "MieTest",
        "127.0.0.1",
        str(scp.port),
        *map(str, sent.values()),
    ]
    result = subprocess.run(command, capture_output=True, env=env, text=True)
    assert result.returncode == 0, result.stderr
    rows = stored_instances(runtime)
    assert len(rows) == len(sent)
    for kind, path in sent.items():
        original = pydicom.dcmread(path, stop_before_pixels=True)
        row = rows[original.SOPInstanceUID]
        stored_path = runtime.settings.data_dir / row.path
        assert dataset_bytes(stored_path) == dataset_bytes(path), kind
        stored_meta = pydicom.dcmread(stored_path, stop_before_pixels=True).file_meta
        assert stored_meta.MediaStorageSOPInstanceUID == original.SOPInstanceUID, kind
        assert row.transfer_syntax_uid == original.file_meta.TransferSyntaxUID, kind
        assert (row.source, row.calling_ae, row.hi_img_indx) == ("dicom", CALLING_AE, study["hiImgIndx"])
    assert_database_agrees_with_disk(runtime)


def pynetdicom_send(port: int, *datasets: pydicom.Dataset, calling: str = CALLING_AE) -> list[int]:
    ae = AE(ae_title=calling)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="MIE")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


def test_pynetdicom_scu_each_file_once_even_when_sent_twice(scp: StorageSCP, runtime: Runtime, study: dict[str, Any]) -> None:
    datasets = [make_instance(study["studyUid"], kind=kind) for kind in ("ct", "mr", "rle", "jpeg2000")]
    assert pynetdicom_send(scp.port, *datasets) == [0] * 4
    assert pynetdicom_send(scp.port, datasets[0]) == [0]
    assert len(stored_instances(runtime)) == 4
    assert_database_agrees_with_disk(runtime)


def test_a_c_store_pynetdicom_reads_itself_goes_to_the_spool_as_sent(
    scp: StorageSCP, runtime: Runtime, study: dict[str, Any], tmp_path: Path
) -> None:
    """A C-STORE of a C-MOVE (it names its Move Originator) is read by pynetdicom, not mie.dicom.dimse: its data
    set goes to pynetdicom's temporary file, then to the spool, never whole in memory; stored as sent."""
    ds = make_instance(study["studyUid"], kind="mr")
    ae = AE(ae_title=CALLING_AE)
    ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="MIE")
    try:
        assert int(assoc.send_c_store(ds, originator_aet="MOVER", originator_id=7).Status) == 0
    finally:
        assoc.release()
    [row] = stored_instances(runtime).values()
    assert dataset_bytes(runtime.settings.data_dir / row.path) == dataset_bytes(write(ds, tmp_path))
    assert_database_agrees_with_disk(runtime)
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


def test_a_data_set_that_is_not_the_instance_its_request_announced_is_refused(
    runtime: Runtime, study: dict[str, Any], tmp_path: Path
) -> None:
    ds = make_instance(study["studyUid"])
    receiving = receive_into_spool(runtime.store, ds.SOPClassUID, "1.2.3.4.5", str(ds.file_meta.TransferSyntaxUID))
    receiving.write(dataset_bytes(write(ds, tmp_path)))
    with pytest.raises(IngestRefused) as refused:
        ingest_spooled_received(
            runtime.database,
            runtime.store,
            receiving,
            sop_class_uid=ds.SOPClassUID,
            sop_instance_uid="1.2.3.4.5",
            institution=INSTITUTION,
            calling_ae=CALLING_AE,
        )
    assert refused.value.kind == "not_as_announced" and STATUS_OF_REFUSAL["not_as_announced"] == 0xA900
    assert stored_instances(runtime) == {}
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


def test_an_unregistered_study_or_accession_is_kept_pending_not_stored_for_an_exam(
    scp: StorageSCP, runtime: Runtime, study: dict[str, Any]
) -> None:
    """Acknowledged once stored, but no exam's until a registration names its study and accession (tests/test_pending.py,
    ERRATA E-UNASSIGNED-INSTANCE); a study registered with other accession numbers does not take it."""
    stray = make_instance("1.2.826.0.1.3680043.8.498.1")
    wrong_accession = make_instance(study["studyUid"], accession="000")
    assert pynetdicom_send(scp.port, stray, wrong_accession) == [0, 0]
    assert stored_instances(runtime) == {}
    assert {item.sop_instance_uid for item in list_pending(runtime.database, 7)} == {
        stray.SOPInstanceUID,
        wrong_accession.SOPInstanceUID,
    }
    assert len(list((runtime.settings.data_dir / "dicom").rglob("*.dcm"))) == 2
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


def test_chinese_text_from_a_modality_in_gb18030(scp: StorageSCP, runtime: Runtime, client: TestClient) -> None:
    record = exam_record()
    client.post(SAVE_EXAM, json=exam_message(record))
    message = img_info_message(record, accession="影像0001")
    assert client.post("/mie/api/mie/saveImgInfo", json=message).json()["code"] == 0
    ds = make_instance(record["studyUid"], accession="影像0001", charset="GB18030", patient_name="张三")
    assert pynetdicom_send(scp.port, ds) == [0]
    [row] = stored_instances(runtime).values()
    assert pydicom.dcmread(runtime.settings.data_dir / row.path).PatientName == "张三"


def test_the_row_keeps_series_and_instance_numbers_frames_and_labels(
    scp: StorageSCP, runtime: Runtime, client: TestClient
) -> None:
    """Read by the scanner on the C-STORE path (the labels in the data set's character set), as pydicom reads them."""
    record = exam_record()
    client.post(SAVE_EXAM, json=exam_message(record))
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(record, total=4)).json()["code"] == 0
    study = record["studyUid"]
    datasets = [
        with_numbers(make_instance(study, charset="GB18030"), 7, 12, description="胸部 平扫"),
        with_numbers(make_instance(study, kind="jpeg2000"), 3, 1),  # NumberOfFrames 1, encapsulated pixels
        make_instance(study, kind="rle"),
    ]
    del datasets[2].InstanceNumber  # none: stored, with no number
    assert pynetdicom_send(scp.port, *datasets) == [0] * 3
    rows = stored_instances(runtime)
    for ds in datasets:
        row = rows[str(ds.SOPInstanceUID)]
        assert {name: getattr(row, name) for name in ORDER_COLUMNS} == order_columns(ds)
    assert rows[str(datasets[0].SOPInstanceUID)].series_description == "胸部 平扫"
    assert rows[str(datasets[2].SOPInstanceUID)].instance_number is None


def test_dcmtk_is_on_this_machine() -> None:
    assert shutil.which(dcmtk("storescu"))


def _wakeups(thread_ids: list[int]) -> int:
    """Voluntary context switches so far of these threads of this process (each sleep or wait is one)."""
    total = 0
    for tid in thread_ids:
        status = Path(f"/proc/self/task/{tid}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("voluntary_ctxt_switches")))
    return total


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads per-thread counters from Linux's /proc")
def test_open_idle_associations_wait_instead_of_polling(scp: StorageSCP) -> None:
    # pynetdicom on its own wakes each association's two threads every millisecond (about 2,000 wake-ups a
    # second per association); mie's reactors wait for the socket, a message or a timer.
    ae = AE(ae_title=CALLING_AE)
    ae.add_requested_context("1.2.840.10008.1.1")
    associations = [ae.associate("127.0.0.1", scp.port, ae_title="MIE") for _ in range(4)]
    try:
        assert all(assoc.is_established for assoc in associations)
        time.sleep(0.2)
        acceptors = scp.server.active_associations if scp.server else []
        assert len(acceptors) == 4
        threads = [t.native_id for a in acceptors for t in (a, a.dul) if t.native_id is not None]
        before = _wakeups(threads)
        time.sleep(1.0)
        per_thread_per_second = (_wakeups(threads) - before) / len(threads)
        assert per_thread_per_second < 100, per_thread_per_second
        # and they still answer at once
        assert all(int(assoc.send_c_echo().Status) == 0 for assoc in associations)
    finally:
        for assoc in associations:
            assoc.release()


@pytest.mark.parametrize("same_content", [True, False])
def test_an_instance_another_process_stored_first_is_a_duplicate_or_a_conflict(
    runtime: Runtime, study: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, same_content: bool
) -> None:
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    first = make_instance(study["studyUid"])
    second = first.copy() if same_content else make_instance(study["studyUid"])
    second.SOPInstanceUID = first.SOPInstanceUID

    def push(ds: pydicom.Dataset, directory: Path) -> Any:
        directory.mkdir(exist_ok=True)
        data, syntax = dataset_bytes(write(ds, directory)), str(ds.file_meta.TransferSyntaxUID)
        return ingest_received(runtime.database, runtime.store, data, syntax, institution=INSTITUTION, calling_ae=CALLING_AE)

    assert not push(first, tmp_path / "first").duplicate
    # The other process's row arrives between our look-up and our insert: the look-up misses it once.
    real_lookup = Repository.instance
    misses = iter([None])
    monkeypatch.setattr(Repository, "instance", lambda self, uid: next(misses, None) or real_lookup(self, uid))
    if same_content:
        again = push(second, tmp_path / "second")
        assert again.duplicate and again.received == 1
    else:
        with pytest.raises(IngestRefused) as refused:
            push(second, tmp_path / "second")
        assert refused.value.kind == "conflict"
    assert len(stored_instances(runtime)) == 1
    assert_database_agrees_with_disk(runtime)
    assert list((runtime.settings.data_dir / "tmp").iterdir()) == []


def test_recovery_registers_again_a_whole_instance_whose_row_was_lost(
    runtime: Runtime, study: dict[str, Any], tmp_path: Path
) -> None:
    """A power cut may take the last group commits' rows, never their files (fsynced under their final names
    first): start-up recovery registers such a file again. Files that are not whole instances of a
    registered study, under the name their UIDs give, are removed."""
    add_institution(runtime.database, INSTITUTION, KEY, ae_title=CALLING_AE)
    kept = make_instance(study["studyUid"])
    data, syntax = dataset_bytes(write(kept, tmp_path)), str(kept.file_meta.TransferSyntaxUID)
    ingest_received(runtime.database, runtime.store, data, syntax, institution=INSTITUTION, calling_ae=CALLING_AE)

    def place_without_row(ds: pydicom.Dataset, relative: Path | None = None) -> Path:
        target = runtime.store.path(relative or relative_path(header_of(ds, str(ds.file_meta.TransferSyntaxUID))))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(write(ds, tmp_path).read_bytes())
        return target

    lost = place_without_row(make_instance(study["studyUid"]))
    renamed = place_without_row(make_instance(study["studyUid"]), Path("dicom") / study["studyUid"] / "1.2.3" / "1.2.3.4.dcm")
    stray = place_without_row(make_instance("1.2.826.0.1.3680043.8.498.99"))
    garbage = runtime.store.path(Path("dicom") / study["studyUid"] / "1.2.3" / "1.2.3.5.dcm")
    garbage.write_bytes(b"not DICOM")

    runtime.recover()

    rows = stored_instances(runtime)
    lost_row = rows[pydicom.dcmread(lost, stop_before_pixels=True).SOPInstanceUID]
    assert (lost_row.source, lost_row.hi_img_indx, lost_row.institution_code) == ("recovered", study["hiImgIndx"], INSTITUTION)
    assert len(rows) == 2 and not renamed.exists() and not stray.exists() and not garbage.exists()
    with runtime.database.unit_of_work() as repository:
        assert repository.received_count(study["hiImgIndx"], study["studyUid"]) == 2
    assert_database_agrees_with_disk(runtime)


def test_a_study_registered_for_two_exams_takes_each_instance_by_its_accession(
    scp: StorageSCP, runtime: Runtime, client: TestClient
) -> None:
    """One study, two exams (two exam parts of one CT visit, say), each registered with its own accession number:
    a C-STORE names only the study and the accession, and goes to the exam whose registration lists it."""
    first = exam_record()
    second = exam_record(studyUid=first["studyUid"])
    for record, accession in ((first, "A-CHEST"), (second, "A-ABDOMEN")):
        assert client.post(SAVE_EXAM, json=exam_message(record)).json()["code"] == 0
        assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(record, accession=accession)).json()["code"] == 0
    chest, abdomen = (make_instance(first["studyUid"], accession=a) for a in ("A-CHEST", "A-ABDOMEN"))
    assert pynetdicom_send(scp.port, chest, abdomen) == [0, 0]
    rows = stored_instances(runtime)
    assert rows[str(chest.SOPInstanceUID)].hi_img_indx == first["hiImgIndx"]
    assert rows[str(abdomen.SOPInstanceUID)].hi_img_indx == second["hiImgIndx"]
