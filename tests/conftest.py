"""Shared fixtures: a processor on SQLite and on the PostgreSQL server at 127.0.0.1:5432 (database test)."""

from __future__ import annotations

import copy
import itertools
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from mie.client import MieClient
from mie.config import Settings
from mie.contract import current
from mie.runtime import Runtime
from mie.service.institutions import add_institution
from mie.store.database import Database
from mie.store.files import FileStore
from mie.web.app import create_app

CONTRACT = current()

POSTGRES_URL = os.environ.get("MIE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
INSTITUTION = "H11010202321"
KEY = "DFDK045DSF1DSF55DS"
OTHER_INSTITUTION = "H52030200193"
OTHER_KEY = "another-key-52"
SAVE_EXAM = "/mie/api/mie/saveExamRpotImgInfo"
DELETE_EXAM = "/mie/api/mie/deleteExamRpotImgIdxInfo"


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means the server is not there
        return f"{type(error).__name__}: {error}"
    return None


@contextmanager
def own_postgres_schema(prefix: str) -> Iterator[str]:
    """A schema of its own in database `test`, dropped afterwards: runs never see each other's rows.
    PostgreSQL is required in CI (the machine runs it); elsewhere its absence skips, saying why."""
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable here: {problem}")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"create schema {schema}"))
    try:
        yield schema
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"drop schema {schema} cascade"))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    with own_postgres_schema("mie_test") as schema:
        yield schema


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
        db.create_all()
        yield db
        db.dispose()
        return
    schema = request.getfixturevalue("postgres_schema")
    db = Database(POSTGRES_URL, schema=schema)
    db.create_all()
    yield db
    db.dispose()  # first what the test left pending is committed (the audit's journal), then
    # each test starts from empty tables.
    with db.engine.begin() as connection:
        tables = ", ".join(f"{schema}.{name}" for name in db.engine.dialect.get_table_names(connection, schema=schema))
        if tables:
            connection.execute(text(f"truncate {tables} cascade"))
    db.dispose()


@pytest.fixture
def runtime(database: Database, tmp_path: Path) -> Runtime:
    add_institution(database, INSTITUTION, KEY, name="北京大学第一医院")
    add_institution(database, OTHER_INSTITUTION, OTHER_KEY, name="另一家医院")
    return Runtime(Settings(data_dir=tmp_path / "data"), current(), database, FileStore(tmp_path / "data"))


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime), raise_server_exceptions=False)


@pytest.fixture
def sender(client: TestClient) -> MieClient:
    """mie.client for the document's institution, in-process against `client`'s processor."""
    return MieClient(institution=INSTITUTION, key=KEY, http=client)


def document_example(path: str = SAVE_EXAM, name: str | None = None) -> dict[str, Any]:
    """The document's request example for a transaction, as the spec keeps it (repaired per ERRATA.md)."""
    content = CONTRACT.document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    if "example" in content:
        return copy.deepcopy(content["example"])
    examples = content["examples"]
    return copy.deepcopy(examples[name or next(iter(examples))]["value"])


_sequence = itertools.count(1)


def new_msgid(institution: str = INSTITUTION) -> str:
    """A msgid of the right format that no earlier message of the test run used."""
    number = next(_sequence)
    moment = datetime(2025, 3, 1) + timedelta(seconds=number // 10000)
    return f"{institution}{moment:%Y%m%d%H%M%S}{number % 10000:04d}"


def new_index(record: dict[str, Any]) -> str:
    """An index for `record` that no earlier record of the test run used (part 3 moves by seconds)."""
    number = next(_sequence)
    moment = datetime(2024, 11, 22, 14, 30) + timedelta(seconds=number)
    return f"{record['psnCertType']}-{record['certno']}-{moment:%Y%m%d%H%M%S}-{'0' * 13}-{'0' * 9}"


def exam_message(*records: dict[str, Any], institution: str = INSTITUTION, key: str = KEY) -> dict[str, Any]:
    message = document_example()
    message["infCode"] = institution
    message["key"] = key
    message["msgid"] = new_msgid(institution)
    message["input"] = list(records)
    return message


def exam_record(**changes: Any) -> dict[str, Any]:
    """The document's example record with a fresh index, and `changes` applied."""
    record = document_example()["input"][0]
    record["hiImgIndx"] = new_index(record)
    record.update(changes)
    return record


def img_info_message(
    record: dict[str, Any], accession: str = "114649960", total: int = 1, institution: str = INSTITUTION, key: str = KEY
) -> dict[str, Any]:
    """saveImgInfo (§2.3) registering `record`'s study."""
    item = {
        "hiImgIndx": record["hiImgIndx"],
        "studyUid": record["studyUid"],
        "accessionNumber": accession,
        "imageTotalNum": total,
    }
    return {
        "infno": "saveImgInfo",
        "msgid": new_msgid(institution),
        "infTime": "2025-11-11 10:10:00",
        "infCode": institution,
        "key": key,
        "input": [item],
    }


def delete_message(
    *items: Any, institution: str = INSTITUTION, key: str = KEY, infno: str = "deleteExamRpotImgIdxInfo"
) -> dict[str, Any]:
    """deleteExamRpotImgIdxInfo (§2.5) of `items` (indexes, or objects naming one)."""
    return {
        "infno": infno,
        "msgid": new_msgid(institution),
        "infTime": "2025-03-03 01:00:00",
        "infCode": institution,
        "key": key,
        "input": list(items),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served_in_thread(app: Any, **config: Any) -> Iterator[int]:
    """`app` under uvicorn in a thread, on a free port of 127.0.0.1 (the port is yielded); stopped on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
