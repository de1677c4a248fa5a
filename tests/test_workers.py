"""`mie serve --workers N`: recovery runs once, in the parent, before anything accepts; its HTTP workers never
run it, and they get every setting."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import httpx
import pytest

from mie.config import RECOVERED_BY, Settings, settings_environment, settings_from_environment
from mie.runtime import Runtime
from tests.conftest import INSTITUTION, KEY, new_msgid
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.test_crash import c_store_senders, database_url, serve_registered_study  # noqa: F401 - database_url is a fixture

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


def test_two_http_workers_and_dicom_lose_nothing(tmp_path: Path, database_url: str) -> None:  # noqa: F811 - the fixture
    data_dir = tmp_path / "data"
    max_file_bytes = 50_000
    server, dicom_port, record = serve_registered_study(
        data_dir, database_url, total=30, extra=["--workers", "2", "--max-file-bytes", str(max_file_bytes)]
    )
    http_port = int(server.args[server.args.index("--http-port") + 1])
    try:
        datasets = [make_instance(record["studyUid"]) for _ in range(30)]
        statuses: list[int] = []
        senders = c_store_senders(dicom_port, [datasets[i::3] for i in range(3)], statuses)
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
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert statuses == [0] * 30
    assert answer.status_code == 413 and answer.json()["code"] == 1006, answer.text[:300]
    runtime = Runtime.open(Settings(data_dir=data_dir, database_url=database_url), recover=False)
    with runtime.database.unit_of_work() as repository:
        known = repository.all_instance_paths()
        rows = [repository.instance(ds.SOPInstanceUID) for ds in datasets]
    runtime.database.dispose()
    assert all(row is not None for row in rows)
    on_disk = {p.relative_to(data_dir).as_posix() for p in (data_dir / "dicom").rglob("*") if p.is_file()}
    assert on_disk == known and len(known) == 30
