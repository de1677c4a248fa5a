"""SIGKILL in the middle of a stream of uploads: every acknowledged instance survives whole, nothing partial."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from pynetdicom import AE

from mie.config import Settings
from mie.runtime import Runtime
from mie.service import exams
from tests.conftest import (
    INSTITUTION,
    KEY,
    POSTGRES_URL,
    exam_message,
    exam_record,
    img_info_message,
    own_postgres_schema,
)
from tests.dicom_files import make_instance, md5
from tests.test_cli import free_port

CALLING_AE = "CRASH_SCU"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return
    with own_postgres_schema("mie_crash") as schema:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def start_server(
    data_dir: Path,
    database_url: str,
    http_port: int,
    dicom_port: int,
    dicom_workers: int = 1,
    log_level: str = "warning",
    extra: Sequence[str] = (),
    workers: str = "1",
) -> subprocess.Popen[str]:
    """`mie serve` with one HTTP worker unless `workers` says otherwise (auto is `mie serve`'s default): a test of
    something else needs no more processes than that (`--workers` in `extra` overrides it)."""
    env = {**os.environ, "MIE_DATA_DIR": str(data_dir), "MIE_DATABASE_URL": database_url, "MIE_DICOM_WORKERS": str(dicom_workers)}
    env["MIE_WORKERS"] = workers
    command = [
        sys.executable,
        "-m",
        "mie.cli",
        "serve",
        "--http-port",
        str(http_port),
        "--dicom-port",
        str(dicom_port),
        "--log-level",
        log_level,
        "--no-access-log",
        *extra,
    ]
    log = server_log(data_dir)
    with log.open("a") as output:  # a file, not a pipe: a pipe nobody reads would stall a chatty server
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{http_port}/openapi.json", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("mie serve did not start: " + log.read_text())


def c_store_senders(dicom_port: int, batches: list[list[Any]], statuses: list[int]) -> list[threading.Thread]:
    """One association per batch, all at once (started threads): each C-STORE's status is appended to `statuses`."""

    def send(batch: list[Any]) -> None:
        ae = AE(ae_title=CALLING_AE)
        ae.add_requested_context(batch[0].SOPClassUID, batch[0].file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", dicom_port, ae_title="MIE")
        assert assoc.is_established
        statuses.extend(int(assoc.send_c_store(ds).Status) for ds in batch)
        assoc.release()

    senders = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for sender in senders:
        sender.start()
    return senders


def server_log(data_dir: Path) -> Path:
    return data_dir.parent / f"{data_dir.name}-serve.log"


def add_institution(data_dir: Path, database_url: str, code: str, key: str, ae_title: str | None = None) -> None:
    """An institution (and its AE title) added by `mie institution add`, as an operator does."""
    command = [sys.executable, "-m", "mie.cli", "institution", "add", code, "--key", key]
    command += ["--ae-title", ae_title] if ae_title else []
    command += ["--data-dir", str(data_dir), "--database-url", database_url]
    subprocess.run(command, check=True, capture_output=True)


def serve_registered_study(
    data_dir: Path,
    database_url: str,
    total: int,
    dicom_workers: int = 1,
    log_level: str = "warning",
    extra: Sequence[str] = (),
    workers: str = "1",
) -> tuple[subprocess.Popen[str], int, dict[str, Any]]:
    """`mie serve` (with `extra` options) with the institution (and its AE title), an exam and its study registered:
    (server, DICOM port, record); the HTTP port is `server.args`' after --http-port. The caller stops the server."""
    add_institution(data_dir, database_url, INSTITUTION, KEY, CALLING_AE)
    http_port, dicom_port = free_port(), free_port()
    server = start_server(data_dir, database_url, http_port, dicom_port, dicom_workers, log_level, extra, workers)
    try:
        record = exam_record()
        base = f"http://127.0.0.1:{http_port}/mie/api/mie"
        assert httpx.post(base + "/saveExamRpotImgInfo", json=exam_message(record), timeout=30).json()["code"] == 0
        assert httpx.post(base + "/saveImgInfo", json=img_info_message(record, total=total), timeout=30).json()["code"] == 0
    except BaseException:
        server.kill()
        raise
    return server, dicom_port, record


def test_sigkill_mid_stream_loses_no_acknowledged_instance(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    server, dicom_port, record = serve_registered_study(data_dir, database_url, total=200)
    acknowledged: set[str] = set()  # SOP Instance UIDs the SCP answered with success
    try:
        datasets = [make_instance(record["studyUid"]) for _ in range(200)]
        stop = threading.Event()

        def send() -> None:
            ae = AE(ae_title=CALLING_AE)
            ae.add_requested_context(datasets[0].SOPClassUID, datasets[0].file_meta.TransferSyntaxUID)
            assoc = ae.associate("127.0.0.1", dicom_port, ae_title="MIE")
            try:
                for ds in datasets:
                    if stop.is_set() or not assoc.is_established:
                        return
                    status = assoc.send_c_store(ds)
                    if status and int(status.Status) == 0:
                        acknowledged.add(ds.SOPInstanceUID)
            finally:
                if assoc.is_established:
                    assoc.abort()

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 25 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-stream: instances are in flight
        server.wait(timeout=20)
        stop.set()
        sender.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert 25 <= len(acknowledged) < len(datasets), "the kill did not land mid-stream"

    # Restart: opening the processor runs its recovery.
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url))
    with runtime.database.unit_of_work() as repository:
        rows = {uid: repository.instance(uid) for uid in acknowledged}
        known = repository.all_instance_paths()
    for uid, row in rows.items():
        assert row is not None, f"acknowledged instance {uid} lost"
        data = (data_dir / row.path).read_bytes()
        assert md5(data) == row.md5
    on_disk = {p.relative_to(data_dir).as_posix() for p in (data_dir / "dicom").rglob("*") if p.is_file()}
    assert on_disk == known, "a file on disk that no row knows, or a row without its file"
    assert list((data_dir / "tmp").iterdir()) == [], "a partial file survived"
    runtime.database.dispose()


def test_several_scp_processes_share_the_port_and_store_everything(tmp_path: Path, database_url: str) -> None:
    """`mie serve --dicom-workers 2`: associations spread over two processes, every instance stored once."""
    data_dir = tmp_path / "data"
    server, dicom_port, record = serve_registered_study(data_dir, database_url, total=40, dicom_workers=2, log_level="info")
    try:
        batches = [[make_instance(record["studyUid"]) for _ in range(10)] for _ in range(4)]
        statuses: list[int] = []
        for sender in c_store_senders(dicom_port, batches, statuses):
            sender.join(timeout=60)
    finally:
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        server.kill()  # as a crash would: the workers must not outlive it
        server.wait(timeout=30)
    assert statuses == [0] * 40
    # the four associations were spread over both processes, not all taken by the first one awake
    accepted_by = re.findall(r"association from \S+ \(\S+\) at \S+, in process (\d+)", server_log(data_dir).read_text())
    assert len(accepted_by) == 4 and len(set(accepted_by)) == 2, accepted_by
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not any(Path(f"/proc/{pid}").exists() for pid in workers), "an SCP worker outlived mie serve"
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url))
    with runtime.database.unit_of_work() as repository:
        assert all(repository.instance(ds.SOPInstanceUID) is not None for batch in batches for ds in batch)
        assert repository.received_count(record["hiImgIndx"], record["studyUid"]) == 40
        known = repository.all_instance_paths()
    assert len(known) == 40
    runtime.database.dispose()


def test_sigkill_mid_stream_loses_no_acknowledged_exam_record(tmp_path: Path, database_url: str) -> None:
    """§2.1 messages from several clients at once (so that they share group commits), SIGKILL mid-stream:
    after a restart every acknowledged record is there, and its message replays with the first answer."""
    data_dir = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "mie.cli", "institution", "add", INSTITUTION, "--key", KEY,
         "--data-dir", str(data_dir), "--database-url", database_url],
        check=True, capture_output=True,
    )  # fmt: skip
    http_port = free_port()
    server = start_server(data_dir, database_url, http_port, free_port())
    url = f"http://127.0.0.1:{http_port}/mie/api/mie/saveExamRpotImgInfo"
    acknowledged: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # index -> (message, answer)
    lock = threading.Lock()
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                message = exam_message(exam_record())
                try:
                    answer = client.post(url, json=message)
                except httpx.HTTPError:
                    return  # the server is gone
                body = answer.json()
                if answer.status_code == 200 and body["code"] == 0 and body["data"][0]["succFlag"] == "1":
                    with lock:
                        acknowledged[message["input"][0]["hiImgIndx"]] = (message, body)

    try:
        senders = [threading.Thread(target=send, daemon=True) for _ in range(4)]
        for sender in senders:
            sender.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-stream: messages are in flight
        server.wait(timeout=20)
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 40, "the stream did not get going before the kill"

    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url))
    try:
        for index, (message, answer) in acknowledged.items():
            assert exams.exam_record(runtime.database, index) is not None, f"acknowledged record {index} lost"
            again = exams.save_exam_records(runtime.contract, runtime.database, message)
            assert again.body == answer, "a replay after the restart does not give the first answer"
            assert exams.exam_history(runtime.database, index) == []
    finally:
        runtime.database.dispose()
