"""`mie serve --workers N` (default auto: one per core): recovery runs once, in the parent, before anything
accepts; its HTTP workers never run it, and they get every setting. Two workers under mixed load (C-STORE, §2.1
saves through SQLite's single writer or PostgreSQL, uploads, §2.8 fetches) lose nothing and answer no 5xx; 1,000
small instances fetched concurrently from two workers come back with their MD5, each fetch audited once."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydicom.uid import generate_uid

from mie.cli import parser
from mie.client import Messages, wire
from mie.config import RECOVERED_BY, Settings, cores, settings_environment, settings_from_environment
from mie.runtime import Runtime
from mie.store.database import default_database_url
from tests.conftest import INSTITUTION, KEY, exam_message, exam_record, new_msgid
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.test_cli import free_port
from tests.test_crash import c_store_senders, database_url, serve_registered_study, start_server  # noqa: F401 - a fixture
from tests.test_fetch_large import server_processes, write_instance

QUERY_IMAGES = "/mie/api/mie/queryImgCaheFIndex"
DEFAULT = "auto"  # what `mie serve` runs with unless told otherwise

__all__ = ["database_url"]


def test_every_setting_reaches_a_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(
        host="0.0.0.0",
        http_port=18081,
        data_dir=tmp_path / "data",
        database_url="sqlite:////elsewhere/mie.sqlite3",
        max_body_bytes=12345,
        max_file_bytes=67890,
        dicom_port=11999,
        dicom_workers=3,
        ae_title="MIE_TEST",
        public_url="http://10.1.2.3:8080",
        link_ttl_seconds=600,
        require_query_key=True,
        strict=True,
        migrations=(Path("/opt/mie/migrations"), Path("/opt/mie/drafts")),
        viewer_dir=Path("/opt/mie/ohif"),
        object_store="s3://images/mie",
        secrets_dir=Path("/opt/mie/secrets"),
        pending_days=2.5,
    )
    for field in fields(Settings):  # none left at its default, or a forgotten one would pass unseen
        assert getattr(settings, field.name) != field.default, field.name
    for name in list(os.environ):
        if name.startswith("MIE_"):
            monkeypatch.delenv(name)
    for name, value in settings_environment(settings).items():
        monkeypatch.setenv(name, value)
    assert settings_from_environment() == settings
    # no viewer stays no viewer, not the option's default
    for name, value in settings_environment(replace(settings, viewer_dir=None)).items():
        monkeypatch.setenv(name, value)
    assert settings_from_environment().viewer_dir is None


def _import_app_in_a_worker(data_dir: Path, recovered_by: str | None) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MIE_")}
    env |= {"MIE_DATA_DIR": str(data_dir)}
    if recovered_by is not None:
        env[RECOVERED_BY] = recovered_by
    subprocess.run([sys.executable, "-c", "import mie.web.asgi"], env=env, check=True, capture_output=True, timeout=120)


def test_a_worker_of_mie_serve_does_not_recover_and_a_standalone_app_does(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    Runtime.open(Settings(data_dir=data_dir)).database.dispose()
    in_flight = data_dir / "tmp" / "an-instance-being-received.part"  # what the SCP writes while workers start
    in_flight.write_bytes(b"DICM...")
    _import_app_in_a_worker(data_dir, recovered_by=str(os.getpid()))  # this process is the worker's parent
    assert in_flight.exists(), "a worker ran recovery and removed a file in flight"
    _import_app_in_a_worker(data_dir, recovered_by="1")  # a stale mark from some other process counts for nothing
    assert not in_flight.exists(), "an app started alone must recover"


def test_the_default_is_one_http_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIE_WORKERS", raising=False)
    assert parser().parse_args(["serve"]).workers == cores() >= 1
    monkeypatch.setenv("MIE_WORKERS", "3")
    assert parser().parse_args(["serve"]).workers == 3
    assert parser().parse_args(["serve", "--workers", "auto"]).workers == cores()


def two_workers() -> str:
    """The default where it means two workers or more; else two, so that the tests show what two do."""
    return DEFAULT if cores() >= 2 else "2"


def http_workers_of(server: subprocess.Popen[str]) -> list[int]:
    """The HTTP worker processes of `mie serve` (its children running uvicorn's workers)."""
    workers = []
    for pid in server_processes(server.pid)[1:]:
        if b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes() and b"resource_tracker" not in Path(
            f"/proc/{pid}/cmdline"
        ).read_bytes():
            workers.append(pid)
    return workers


def saves_meanwhile(http_port: int, threads: int, each: int, answers: list[httpx.Response]) -> list[threading.Thread]:
    """§2.1 saves from `threads` threads at once, `each` messages of one new record per thread (started threads)."""

    def send() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}/mie/api/mie", timeout=60) as http:
            answers.extend(http.post("/saveExamRpotImgInfo", json=exam_message(exam_record())) for _ in range(each))

    senders = [threading.Thread(target=send) for _ in range(threads)]
    for sender in senders:
        sender.start()
    return senders


def fetch_all(http_port: int, index: str, files: list[tuple[dict[str, str], str]], threads: int) -> list[tuple[int, str]]:
    """§2.8 of every (imgFileSn, MD5) from `threads` keep-alive connections at once: (HTTP status, MD5 of the
    decoded fileContent) in the order of `files`."""
    messages = Messages(INSTITUTION, KEY)
    results: list[tuple[int, str]] = [(0, "")] * len(files)

    def fetch(share: range) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=60) as http:
            for position in share:
                answer = http.post(QUERY_IMAGES, json=wire(messages.fetch_image(index, files[position][0])))
                content = answer.json()["data"]["fileContent"] if answer.status_code == 200 else None
                results[position] = (answer.status_code, md5(base64.b64decode(content, validate=True)) if content else "")

    fetchers = [threading.Thread(target=fetch, args=(range(n, len(files), threads),)) for n in range(threads)]
    for fetcher in fetchers:
        fetcher.start()
    for fetcher in fetchers:
        fetcher.join(timeout=300)
    return results


def fetch_events(data_dir: Path, database_url: str, expected: int) -> list[dict[str, Any]]:
    """The fetch events in the database, once `expected` of them are there (the workers commit their journals
    within moments) or after 30 s. The journal of a worker that did not commit it at its end (its supervisor
    killed it) is committed as the next process to start would."""
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
    try:
        runtime.audit.adopt_orphans()
        deadline = time.monotonic() + 30
        while True:
            events = [e for e in runtime.audit.events() if e["action"] == "fetch-image"]
            if len(events) >= expected or time.monotonic() > deadline:
                return events
            time.sleep(0.2)
    finally:
        runtime.database.dispose()


def test_two_http_workers_and_dicom_lose_nothing(tmp_path: Path, database_url: str) -> None:  # noqa: F811 - the fixture
    """The default workers (two at least) under C-STORE, §2.1 saves (SQLite: one writer at a time across the
    processes), a refused upload and §2.8 fetches at once: every acknowledged instance and record stored, every
    fetch answered whole and audited, no 5xx."""
    data_dir = tmp_path / "data"
    max_file_bytes = 50_000
    server, dicom_port, record = serve_registered_study(
        data_dir, database_url, total=30, extra=["--max-file-bytes", str(max_file_bytes)], workers=two_workers()
    )
    http_port = int(server.args[server.args.index("--http-port") + 1])
    try:
        assert len(http_workers_of(server)) >= 2
        datasets = [make_instance(record["studyUid"]) for _ in range(30)]
        statuses: list[int] = []
        senders = c_store_senders(dicom_port, [datasets[i::3] for i in range(3)], statuses)
        saved: list[httpx.Response] = []
        senders += saves_meanwhile(http_port, threads=4, each=10, answers=saved)
        # Meanwhile over HTTP: a file over --max-file-bytes is refused by whichever worker takes it.
        big = make_instance(record["studyUid"])
        big.PatientComments = "x" * (max_file_bytes + 1000)
        data = part10_bytes(big)
        head = {"infno": "saveImgFile", "msgid": new_msgid(), "infTime": "2025-03-03 01:00:00"}
        head |= {"infCode": INSTITUTION, "key": KEY}
        form = {
            "hiImgIdx": record["hiImgIndx"],
            "studyUid": record["studyUid"],
            "accessionNumber": "114649960",
            "fileMd5": md5(data),
            "imageTotalNum": "31",
        }
        answer = httpx.post(
            f"http://127.0.0.1:{http_port}/mie/api/mie/saveImgFile",
            headers=head,
            data=form,
            files={"dicom": ("big.dcm", data, "application/dicom")},
            timeout=60,
        )
        for sender in senders:
            sender.join(timeout=120)
        # the instances just stored, fetched back from both workers while §2.1 saves go on
        senders = saves_meanwhile(http_port, threads=2, each=10, answers=saved)
        files = [({"examUuid": ds.StudyInstanceUID, "snUuid": ds.SeriesInstanceUID, "instUuid": ds.SOPInstanceUID}, "")
                 for ds in datasets]  # fmt: skip
        fetched = fetch_all(http_port, record["hiImgIndx"], files, threads=4)
        for sender in senders:
            sender.join(timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert statuses == [0] * 30
    assert answer.status_code == 413 and answer.json()["code"] == 1006, answer.text[:300]
    assert [a.status_code for a in saved] == [200] * 60 and all(a.json()["data"][0]["succFlag"] == "1" for a in saved)
    assert [status for status, _ in fetched] == [200] * 30 and all(digest for _, digest in fetched)
    assert len(fetch_events(data_dir, database_url, 30)) == 30
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
    with runtime.database.unit_of_work() as repository:
        known = repository.all_instance_paths()
        rows = [repository.instance(ds.SOPInstanceUID) for ds in datasets]
    runtime.database.dispose()
    assert all(row is not None for row in rows)
    on_disk = {p.relative_to(data_dir).as_posix() for p in (data_dir / "dicom").rglob("*") if p.is_file()}
    assert on_disk == known and len(known) == 30
    with runtime.database.unit_of_work() as repository:
        assert all(repository.exam(json.loads(a.request.content)["input"][0]["hiImgIndx"]) is not None for a in saved)
    runtime.database.dispose()


def test_a_thousand_small_instances_come_back_whole_from_two_workers(tmp_path: Path) -> None:
    """Issue 14's check: 1,000 small instances fetched by §2.8 concurrently from the default workers (two at least),
    each decoded to its stored MD5, both workers serving, each fetch audited once (SQLite: the workers' audit
    commits take turns with one writer)."""
    data_dir = tmp_path / "data"
    database = default_database_url(data_dir)
    server, _, record = serve_registered_study(data_dir, database, total=1000, workers=two_workers())
    http_port = int(server.args[server.args.index("--http-port") + 1])
    try:
        workers = http_workers_of(server)
        assert len(workers) >= 2
        runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database), recover=False)
        files, sizes, rows = [], [], []
        instance = make_instance(record["studyUid"])
        template = part10_bytes(instance)
        for _ in range(1000):
            data = template + os.urandom(64 + len(rows) % 3)  # each file its own content (and a length mod 3 of each)
            instance.SOPInstanceUID = generate_uid()  # the row's UIDs; the file's content is what is compared
            row, file_sn, digest = write_instance(runtime, record, data, len(data), instance)
            files.append((file_sn.model_dump(by_alias=True), digest))
            sizes.append(len(data))
            rows.append(row)
        with runtime.database.unit_of_work() as repository:  # one transaction: the test is about the fetches
            for row in rows:
                repository.add_instance(row)
        runtime.database.dispose()
        fetched = fetch_all(http_port, record["hiImgIndx"], files, threads=8)
        journals = {path.name.split("-")[0] for path in (data_dir / "audit-journal").glob("*.jsonl")}
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert [status for status, _ in fetched] == [200] * 1000
    assert [digest for _, digest in fetched] == [digest for _, digest in files]
    assert {str(pid) for pid in workers} <= journals, "a worker served no fetch"
    events = fetch_events(data_dir, database, 1000)
    assert sorted(e["bytes_sent"] for e in events) == sorted(sizes) and {e["items"] for e in events} == {1}


def test_the_workers_die_with_a_killed_mie_serve(tmp_path: Path) -> None:
    """SIGKILL of `mie serve` (a crash) takes its HTTP workers with it: none goes on serving, or holding the port,
    beside the processor started next."""
    data_dir = tmp_path / "data"
    port = free_port()
    server = start_server(data_dir, default_database_url(data_dir), port, 0, workers=two_workers())
    workers = http_workers_of(server)
    assert len(workers) >= 2
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and b"Z" not in _state(pid)]


def _state(pid: int) -> bytes:
    """A process's state letter (Z: a zombie, dead but not yet reaped by its new parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return b"Z"
