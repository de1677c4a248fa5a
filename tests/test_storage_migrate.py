# ruff: noqa: F811 (the fixtures imported from tests.objectstore are named again as parameters)
"""`mie storage migrate`: every stored file (instances and reports) from the data directory to a bucket and back,
each verified against its row's MD5 before the source's copy is removed; an interrupted run leaves the source whole
and the same command continues it; a file missing everywhere removes nothing. Against SeaweedFS, on SQLite (the
database does not change what it shows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mie import cli
from mie.config import Settings
from mie.runtime import Runtime
from mie.service import storage
from mie.service.institutions import add_institution
from mie.store.database import Database
from mie.store.files import FileStore
from mie.store.objects import S3Area, parse_url
from mie.web.app import create_app
from tests.conftest import INSTITUTION, KEY
from tests.dicom_files import md5
from tests.objectstore import SeaweedFS, object_store, seaweedfs  # noqa: F401 (fixtures)
from tests.page_data import pdf, store_ct_series, store_exam, store_report
from tests.retrieval_helpers import ALLOWED, client_at, register_querier
from tests.test_object_store import fetched, listed


def stored_files(settings: Settings) -> list[tuple[str, str]]:
    database = Database(settings.effective_database_url)
    try:
        with database.unit_of_work() as repository:
            return repository.stored_files()
    finally:
        database.dispose()


def local_files(data: Path) -> set[str]:
    return {p.relative_to(data).as_posix() for area in ("dicom", "reports") for p in (data / area).rglob("*") if p.is_file()}


def assert_all_in(store: FileStore, files: list[tuple[str, str]]) -> None:
    for name, digest in files:
        with store.open_stored(Path(name)) as stored:
            assert md5(stored.read()) == digest, name


def run(settings: Settings, to: str) -> int:
    area = ["--object-store", settings.object_store] if settings.object_store else []
    return cli.main(
        [
            "storage",
            "migrate",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            str(settings.database_url),
            *area,
            "--to",
            to,
        ]
    )


def test_migrate_to_a_bucket_and_back_verified_resumable_and_served_from_the_bucket(
    object_store: str, seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    local = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    runtime = Runtime.open(local)
    add_institution(runtime.database, INSTITUTION, KEY, name="北京大学第一医院")
    sender = TestClient(create_app(runtime), raise_server_exceptions=False)
    exam = store_ct_series(sender, store_exam(sender), count=3)
    store_report(sender, exam, pdf("报告"))
    runtime.database.dispose()
    files = stored_files(local)
    assert len(files) == 4 and local_files(local.data_dir) == {name for name, _ in files}
    bucket, prefix = parse_url(object_store)
    in_bucket = FileStore(local.data_dir, S3Area(bucket, prefix))

    # interrupted after two files: the source is whole, the target has those two, and the same command continues
    copy, calls = storage._copy, []

    def interrupted(*args: object) -> tuple[str, str]:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args)
        return copy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(storage, "_copy", interrupted)
    assert run(local, object_store) == cli.EXIT_OK  # mie's main: Ctrl-C ends the command quietly
    assert local_files(local.data_dir) == {name for name, _ in files}
    assert len(seaweedfs.objects(bucket)) == 2
    monkeypatch.setattr(storage, "_copy", copy)
    capsys.readouterr()
    assert run(local, object_store) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "目标中已有 2 个" in out and "复制并校验 2 个" in out and "从源存储删除 4 个" in out, out
    assert local_files(local.data_dir) == set()
    assert set(seaweedfs.objects(bucket)) == {prefix + name for name, _ in files}
    assert_all_in(in_bucket, files)

    # the processor started on the bucket serves what was moved (§2.7/§2.8, MD5 equal)
    on_bucket = Settings(data_dir=local.data_dir, database_url=local.database_url, object_store=object_store)
    runtime = Runtime.open(on_bucket)  # its start-up recovery keeps every moved object: rows know them
    register_querier(runtime)
    querier = client_at(runtime, ALLOWED)
    listing = listed(querier, exam.record["hiImgIndx"])
    assert len(listing) == 3
    by_name = dict(files)
    for item in listing:
        assert md5(fetched(querier, exam.record["hiImgIndx"], item)) in by_name.values()
    runtime.database.dispose()
    assert set(seaweedfs.objects(bucket)) == {prefix + name for name, _ in files}

    # the same area again is a usage error
    assert run(on_bucket, object_store) == cli.EXIT_USAGE

    # back to the data directory; an object missing from the bucket (and not local) removes nothing: exit 1
    lost = files[0][0]
    with in_bucket.open_stored(Path(lost)) as stored:
        kept = stored.read()
    seaweedfs.client().delete_object(Bucket=bucket, Key=prefix + lost)
    capsys.readouterr()
    assert run(on_bucket, "local") == cli.EXIT_PROBLEMS
    assert f"缺失 {lost}" in capsys.readouterr().out
    assert set(seaweedfs.objects(bucket)) == {prefix + name for name, _ in files[1:]}  # nothing removed
    # put back (as an operator restoring it would): the same command finishes the move, verifying what it copied
    seaweedfs.client().put_object(Bucket=bucket, Key=prefix + lost, Body=kept)
    capsys.readouterr()
    assert run(on_bucket, "local") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "目标中已有 3 个" in out and "复制并校验 1 个" in out and "从源存储删除 4 个" in out, out
    assert seaweedfs.objects(bucket) == {}
    assert local_files(local.data_dir) == {name for name, _ in files}
    assert_all_in(FileStore(local.data_dir), files)
