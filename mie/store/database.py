"""The database: SQLite by default (one file in the data directory), PostgreSQL in production."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from mie.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from mie.store.repository import Repository


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'mie.sqlite3').resolve()}"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver mie ships with)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Transactions are begun by _sqlite_begin_immediate, not by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL with synchronous=NORMAL: durable across a process crash, about 20% cheaper per write than the
    # defaults (see ../shared/NOTES.md); busy_timeout lets several workers share the file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # Every unit of work reads, then writes. A deferred SQLite transaction that read before another writer
    # committed cannot write at all (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out); taking the
    # write lock at BEGIN makes concurrent writers (threads, uvicorn workers) wait their turn instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and the sessions made from it."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = normalise_url(url)
        connect_args: dict[str, object] = {}
        if self.url.startswith("sqlite"):
            connect_args["check_same_thread"] = False
        elif schema:
            connect_args["options"] = f"-csearch_path={schema}"
        self.engine: Engine = create_engine(self.url, connect_args=connect_args, pool_pre_ping=True)
        # SQLite has one writer at a time. Threads of this process queue on a lock rather than in SQLite's
        # busy handler, which polls and lets late comers overtake (p99 of a second under 8 connections).
        self._writer_turn: AbstractContextManager[object] = threading.Lock() if self.url.startswith("sqlite") else nullcontext()
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_all(self) -> None:
        SQLModel.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends cleanly, rolled back otherwise."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def unit_of_work(self) -> Iterator[Repository]:
        """One transaction, through the repository: committed when the block ends cleanly, else rolled back."""
        with self._writer_turn, self.engine.begin() as connection:
            yield Repository(connection)

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return self.engine.url.render_as_string(hide_password=True)
