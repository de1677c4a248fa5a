"""Schema revisions (mie/store/schema.py): the baseline is the schema `create_all` makes; a database made and filled
at V1.4 is upgraded to the V1.5 draft's revision (tests/migrations_v1_5) with every row kept; `mie serve` refuses a
database behind it, naming `mie db upgrade`, and starts once it has run; a database ahead of the code is refused too.
On SQLite and on PostgreSQL, each in a schema of its own (search_path, as `Database(url, schema=...)` sets it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlmodel import SQLModel
from starlette.testclient import TestClient

from mie.config import Settings
from mie.runtime import Runtime
from mie.service import dicomweb_index, pages
from mie.service.ingest import ingest_received
from mie.service.institutions import add_institution
from mie.service.links import Page, page_url
from mie.store.database import Database
from mie.store.schema import BASELINE, SchemaAhead, SchemaBehind, _config, _migrating, prepare, script_directory, state
from mie.web.app import create_app
from tests.conftest import (
    DELETE_EXAM,
    INSTITUTION,
    KEY,
    OTHER_INSTITUTION,
    OTHER_KEY,
    POSTGRES_URL,
    SAVE_EXAM,
    delete_message,
    exam_message,
    img_info_message,
    own_postgres_schema,
)
from tests.dicom_files import ORDER_COLUMNS, dataset_bytes, make_instance, part10_bytes, write
from tests.page_data import store_ct_series, store_exam
from tests.retrieval_helpers import (
    ALLOWED,
    QUERY_IMAGES,
    QUERY_INDEX,
    client_at,
    index_query,
    list_query,
    person_record,
    register_querier,
)
from tests.test_cli import free_port
from tests.test_crash import server_log, start_server
from tests.test_images_http import upload as upload_image
from tests.test_reports import upload as upload_report

V15_MIGRATIONS = Path(__file__).resolve().parent / "migrations_v1_5"
V15 = "0004_v1_5_draft"
PACKAGED_HEAD = "0007_series_revision"  # the newest revision in mie/store/migrations/versions/
MIE = [sys.executable, "-m", "mie.cli"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    with own_postgres_schema("mie_migrations") as schema:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def rows(database: Database, skip: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table mie knows (its V1.4 columns; but `skip`), in primary-key order."""
    found: dict[str, list[dict[str, Any]]] = {}
    with database.engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip:
                continue
            query = select(table).order_by(*table.primary_key.columns)
            found[table.name] = [dict(row._mapping) for row in connection.execute(query)]
    return found


def fill(runtime: Runtime) -> None:
    """One of everything V1.4 stores, through HTTP: institutions and a query network, exam records (one replaced, one
    deleted), a study, instances, reports, messages, access and audit events; and, as the SCP stores it, an instance
    of a study not registered (pending)."""
    add_institution(runtime.database, INSTITUTION, KEY, name="北京大学第一医院")
    add_institution(runtime.database, OTHER_INSTITUTION, OTHER_KEY, name="另一家医院")
    register_querier(runtime)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)
    kept, replaced, deleted = person_record(), person_record(), person_record()
    assert client.post(SAVE_EXAM, json=exam_message(kept, replaced, deleted)).json()["code"] == 0
    assert client.post(SAVE_EXAM, json=exam_message({**replaced, "psnName": "另一个名字"})).json()["code"] == 0
    assert client.post(DELETE_EXAM, json=delete_message(deleted["hiImgIndx"])).json()["code"] == 0
    assert client.post("/mie/api/mie/saveImgInfo", json=img_info_message(kept, total=2)).json()["code"] == 0
    for _ in range(2):
        assert upload_image(client, kept, part10_bytes(make_instance(kept["studyUid"]))).json()["code"] == 0
        assert upload_report(client, kept).json()["code"] == 0
    querier = client_at(runtime, ALLOWED)
    assert querier.post(QUERY_INDEX, json=index_query(certno=kept["certno"], begntime=None, endtime=None)).json()["code"] == 0
    assert querier.post(QUERY_IMAGES, json=list_query(kept["hiImgIndx"])).json()["code"] == 0
    runtime.audit.flush()  # the access events are journaled and committed in batches, off the requests' path
    early = make_instance("1.2.826.0.1.3680043.8.498.4242", accession="EARLY")
    data = dataset_bytes(write(early, runtime.settings.data_dir.parent))
    held = ingest_received(
        runtime.database, runtime.store, data, str(early.file_meta.TransferSyntaxUID), institution=INSTITUTION, calling_ae="PACS"
    )
    assert held.pending


def test_the_baseline_is_the_schema_create_all_makes(database_url: str, tmp_path: Path) -> None:
    """And, later, that the packaged revisions make mie/store/tables.py: a change of the tables without its revision
    fails here."""
    migrated = Database(database_url)
    try:
        assert prepare(migrated).status == "empty"
        assert state(migrated)[0].status == "current"
        with migrated.engine.connect() as connection:
            # What autogenerate would write next is nothing: the tables and the revisions agree.
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
            if migrated.dialect == "sqlite" and script_directory().get_heads() == [BASELINE]:
                ddl = "select name, sql from sqlite_master where tbl_name != 'alembic_version' order by name"
                by_migration = connection.execute(text(ddl)).all()
        if migrated.dialect == "sqlite" and script_directory().get_heads() == [BASELINE]:
            made = Database(f"sqlite:///{tmp_path / 'create_all.sqlite3'}")
            made.create_all()
            with made.engine.connect() as connection:
                assert connection.execute(text(ddl)).all() == by_migration  # the same CREATE statements, to the letter
            made.dispose()
    finally:
        migrated.dispose()


def test_the_tables_and_alembic_version_go_into_the_databases_own_schema() -> None:
    with own_postgres_schema("mie_migrations") as schema:
        database = Database(POSTGRES_URL, schema=schema)
        prepare(database)
        with database.engine.connect() as connection:
            names = set(inspect(connection).get_table_names(schema=schema))
            assert "alembic_version" not in inspect(connection).get_table_names(schema="public")
        database.dispose()
    assert names == {*SQLModel.metadata.tables, "alembic_version"}


def test_a_database_made_before_migrations_is_stamped_as_the_baseline(database_url: str, tmp_path: Path) -> None:
    old = Database(database_url)
    baseline = script_directory().get_revision(BASELINE)
    assert baseline is not None
    baseline.module.metadata().create_all(old.engine)  # as every mie before migrations made it (the baseline's tables)
    with old.engine.begin() as connection:  # one made before the audit of retrieval: no access_event yet
        connection.execute(text("drop table access_event"))
    add_institution(old, INSTITUTION, KEY)
    # (instance, exam_record, dicomweb_instance, dicomweb_series and pending_instance: empty, and read with today's
    # columns only once upgraded)
    empty = frozenset({"access_event", "instance", "exam_record", "dicomweb_instance", "dicomweb_series", "pending_instance"})
    before = {**rows(old, skip=empty), **{name: [] for name in empty}}
    old.dispose()
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    # taken as the baseline, and so behind the packaged revisions after it: refused, and left as it was
    with pytest.raises(SchemaBehind, match="mie db upgrade"):
        Runtime.open(settings, recover=False).database.dispose()
    stamped = Database(database_url)
    assert state(stamped)[0].status == "unversioned"
    assert prepare(stamped, upgrade=True).status == "behind"  # stamped as the baseline, then upgraded
    stamped.dispose()
    runtime = Runtime.open(settings, recover=False)
    try:
        found, _words = state(runtime.database)
        assert found.status == "current" and found.current == (PACKAGED_HEAD,)
        assert rows(runtime.database) == before
        with runtime.database.engine.connect() as connection:  # the missing table made as the baseline makes it
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    finally:
        runtime.database.dispose()


def test_a_v14_database_is_upgraded_to_v15_with_every_record_kept(database_url: str, tmp_path: Path) -> None:
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=database_url), recover=False)
    try:
        fill(runtime)
        before = rows(runtime.database)
        empty = {name for name, found in before.items() if not found}
        assert not empty, f"the fixture stores nothing in {empty}"
        assert len(before["exam_record"]) == 2 and len(before["exam_record_history"]) == 1 and len(before["report"]) == 2

        with pytest.raises(SchemaBehind, match="mie db upgrade"):
            prepare(runtime.database, extra_locations=[V15_MIGRATIONS])
        assert prepare(runtime.database, upgrade=True, extra_locations=[V15_MIGRATIONS]).status == "behind"
        found, _words = state(runtime.database, [V15_MIGRATIONS])
        assert found.status == "current" and found.current == (V15,)

        assert rows(runtime.database) == before  # every row of every table, every column, as it was
        with runtime.database.engine.connect() as connection:
            columns = {column["name"]: column for column in inspect(connection).get_columns("study")}
            assert columns["modality"]["nullable"]
            assert connection.execute(text("select modality from study")).scalars().all() == [None]
        # The code without the draft's revision does not know where the database is: it refuses, it does not guess.
        with pytest.raises(SchemaAhead, match=V15):
            prepare(runtime.database)
    finally:
        runtime.database.dispose()


def test_instances_stored_before_0003_keep_their_rows_without_numbers_and_are_read_from_their_files(
    database_url: str, tmp_path: Path
) -> None:
    """0003_instance_order adds the columns and reads no file: older rows get NULL, and the readers fall back (§2.7
    in arrival order, the image page from the file's header) while instances stored since are ordered by their rows."""
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=database_url), recover=False)
    try:
        add_institution(runtime.database, INSTITUTION, KEY)
        register_querier(runtime)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        exam = store_ct_series(client, store_exam(client), count=3)  # sent in reverse InstanceNumber order
        with _migrating(runtime.database) as connection:  # as a database of revision 0002 has them
            command.downgrade(_config([], connection), "0002_spec_lengths")
        instance = SQLModel.metadata.tables["instance"]
        older = select(*[column for column in instance.columns if column.name not in ORDER_COLUMNS]).order_by(
            instance.c.sop_instance_uid
        )
        with runtime.database.engine.connect() as connection:
            before = [dict(row._mapping) for row in connection.execute(older)]
        # exam_record: index_key comes with 0005_index_key; dicomweb_instance and dicomweb_series: gone at 0002,
        # empty again after; pending_instance: gone at 0002 (it comes with 0006_pending_instance), empty again after
        unchanged = frozenset({"instance", "exam_record", "dicomweb_instance", "dicomweb_series", "pending_instance"})
        others = rows(runtime.database, skip=unchanged)
        with _migrating(runtime.database) as connection:
            command.upgrade(_config([], connection), "heads")
        after = rows(runtime.database)
        assert len(before) == 3
        assert [{k: v for k, v in row.items() if k not in ORDER_COLUMNS} for row in after["instance"]] == before
        assert all(row[name] is None for row in after["instance"] for name in ORDER_COLUMNS)
        assert rows(runtime.database, skip=unchanged) == others
        assert after["dicomweb_instance"] == []  # filled from the files on DICOMweb's first request, not here

        hi_img_indx = exam.record["hiImgIndx"]
        listed = client_at(runtime, ALLOWED).post(QUERY_IMAGES, json=list_query(hi_img_indx)).json()["data"]["imgFileSnList"]
        assert [item["instUuid"] for item in listed] == list(reversed(exam.sop_uids))  # arrival order: no numbers
        pages._header.cache_clear()
        token = runtime.links.issue(Page.image, hi_img_indx, OTHER_INSTITUTION)
        page = client.get(page_url("", Page.image, token)).text
        assert pages._header.cache_info().misses == 3  # the older rows' headers, read from their files
        assert page.index(exam.sop_uids[0]) < page.index(exam.sop_uids[1]) < page.index(exam.sop_uids[2])

        # One more instance of the series, stored now: its numbers are on its row, so it is listed first
        newer = make_instance(exam.record["studyUid"])
        newer.SeriesInstanceUID, newer.SeriesNumber, newer.InstanceNumber = exam.series_uid, 2, 4
        assert upload_image(client, exam.record, part10_bytes(newer), imageTotalNum="4").json()["code"] == 0
        listed = client_at(runtime, ALLOWED).post(QUERY_IMAGES, json=list_query(hi_img_indx)).json()["data"]["imgFileSnList"]
        assert [item["instUuid"] for item in listed] == [str(newer.SOPInstanceUID), *reversed(exam.sop_uids)]
        pages._header.cache_clear()
        client.get(page_url("", Page.image, token))
        assert pages._header.cache_info().misses == 3  # not for the new one
    finally:
        runtime.database.dispose()


def test_instances_stored_before_0004_are_indexed_for_dicomweb_from_their_files_on_its_first_request(
    database_url: str, tmp_path: Path
) -> None:
    """0004_dicomweb reads no file: instances stored before it have no DICOMweb entry until the first DICOMweb
    request of a process reads their files; QIDO and series metadata then find them as if ingested since."""
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=database_url), recover=False)
    try:
        add_institution(runtime.database, INSTITUTION, KEY)
        client = TestClient(create_app(runtime), raise_server_exceptions=False)
        exam = store_ct_series(client, store_exam(client), count=2)
        with _migrating(runtime.database) as connection:  # as a database of revision 0003 has them, upgraded
            command.downgrade(_config([], connection), "0003_instance_order")
            command.upgrade(_config([], connection), "heads")
        assert rows(runtime.database)["dicomweb_instance"] == []
        dicomweb_index._backfilled.clear()  # as a process started after the upgrade
        study, series = exam.record["studyUid"], exam.series_uid
        metadata = client.get(f"/dicom-web/studies/{study}/series/{series}/metadata", auth=(INSTITUTION, KEY)).json()
        assert [item["00080018"]["Value"][0] for item in metadata] == exam.sop_uids
        assert "BulkDataURI" in metadata[0]["7FE00010"]
        assert len(rows(runtime.database)["dicomweb_instance"]) == 2
    finally:
        runtime.database.dispose()


def mie(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MIE, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_serve_refuses_a_database_behind_it_until_mie_db_upgrade(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    storage = ["--data-dir", str(data_dir), "--database-url", database_url]
    assert mie("institution", "add", INSTITUTION, "--key", KEY, *storage).returncode == 0  # made at V1.4
    v15 = ["--migrations", str(V15_MIGRATIONS)]

    refused = mie("serve", "--http-port", str(free_port()), "--dicom-port", "0", *storage, *v15)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "behind" in refused.stderr and "mie db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    current = mie("db", "current", *storage, *v15)
    assert current.returncode == 1 and "behind" in current.stdout and PACKAGED_HEAD in current.stdout

    upgraded = mie("db", "upgrade", *storage, *v15)
    assert upgraded.returncode == 0, upgraded.stderr
    current = mie("db", "current", *storage, *v15)
    assert current.returncode == 0 and V15 in current.stdout

    ahead = mie("serve", "--http-port", str(free_port()), "--dicom-port", "0", *storage)  # without the draft's revision
    assert ahead.returncode == 1 and "does not know" in ahead.stderr

    os.environ["MIE_MIGRATIONS"] = str(V15_MIGRATIONS)  # start_server passes the environment on
    try:
        port = free_port()
        server = start_server(data_dir, database_url, port, 0)
    finally:
        del os.environ["MIE_MIGRATIONS"]
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in server_log(data_dir).read_text()


def test_serve_upgrade_migrates_instead_of_refusing(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"
    storage = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    assert mie("institution", "add", INSTITUTION, "--key", KEY, *storage).returncode == 0
    env = {**os.environ, "MIE_MIGRATIONS": str(V15_MIGRATIONS)}
    assert mie("institution", "list", *storage, env=env).returncode == 1  # every command refuses, not only serve
    port = free_port()
    command = [*MIE, "serve", "--upgrade", "--http-port", str(port), "--dicom-port", "0", "--log-level", "warning", *storage]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200
                break
            except httpx.HTTPError:
                assert server.poll() is None, "mie serve --upgrade did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert mie("institution", "list", *storage, env=env).returncode == 0
    assert V15 in mie("db", "current", *storage, env=env).stdout


def test_a_database_that_cannot_be_reached_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = mie("db", "current", "--database-url", f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}")
    assert result.returncode == 2 and "cannot be reached" in result.stderr and "Traceback" not in result.stderr


BROKEN_REVISION = '''"""fails half-way"""
import sqlalchemy as sa
from alembic import op

revision = "0004_broken"
down_revision = "0004_dicomweb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("study", sa.Column("half_done", sa.Integer(), nullable=True))
    raise RuntimeError("a migration that fails half-way")


def downgrade() -> None:
    pass
'''


def test_a_migration_that_fails_changes_nothing(database_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0004_broken.py").write_text(BROKEN_REVISION.replace("0003_instance_order", PACKAGED_HEAD), encoding="utf-8")
    runtime = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=database_url), recover=False)
    try:
        add_institution(runtime.database, INSTITUTION, KEY)
        before = rows(runtime.database)
        with pytest.raises(RuntimeError, match="half-way"):
            prepare(runtime.database, upgrade=True, extra_locations=[broken])
        found, _words = state(runtime.database, [broken])
        assert found.status == "behind" and found.current == (PACKAGED_HEAD,)
        with runtime.database.engine.connect() as connection:
            assert "half_done" not in {column["name"] for column in inspect(connection).get_columns("study")}
        assert rows(runtime.database) == before
    finally:
        runtime.database.dispose()
