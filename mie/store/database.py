"""The database: SQLite by default (one file in the data directory), PostgreSQL in production."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
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
    # WAL with synchronous=FULL: every commit is on disk when it returns, so what has been answered survives
    # a power cut, not only a crash of the process (NORMAL may lose the last commits, and recovery would
    # then remove files that were acknowledged). Group commit pays the fsync once per batch of instances.
    # busy_timeout lets several processes share the file.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_READ_ONLY = "mie_read_only"  # an execution option: the transaction only reads (Database.reading)


def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # Every unit of work reads, then writes. A deferred SQLite transaction that read before another writer
    # committed cannot write at all (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not wait out); taking the
    # write lock at BEGIN makes concurrent writers (threads, uvicorn workers) wait their turn instead.
    # A transaction that only reads needs no lock: in WAL mode it reads a snapshot while a writer writes.
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


class _WriterTurn:
    """One SQLite writer at a time: among this process's threads (a lock), and among processes sharing the
    database file (`mie serve --workers/--dicom-workers`) by flock on a file beside it, whose waiters the
    kernel wakes as soon as the holder lets go."""

    def __init__(self, lock_file: Path | None) -> None:
        self._threads = threading.Lock()
        self._lock_file = lock_file
        self._descriptor: int | None = None
        self._opened_in: int | None = None

    def _file(self) -> int:
        # Opened per process: an inherited descriptor would share its lock with the parent's.
        if self._descriptor is None or self._opened_in != os.getpid():
            assert self._lock_file is not None
            self._descriptor = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._opened_in = os.getpid()
        return self._descriptor

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._lock_file is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._lock_file is not None:
                fcntl.flock(self._file(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _lock_file_of(database: str | None) -> Path | None:
    """The writers' lock file of an SQLite database file (none for an in-memory database)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".writer-lock")


T = TypeVar("T")


class Batch:
    """What the jobs of one group commit share: the transaction (through the repository), actions to run
    once before it commits (deduplicated by key: one directory fsync for many files), and actions to undo
    a job's effects outside the database should the commit fail."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._before_commit: dict[object, Callable[[], None]] = {}
        self._gathered: dict[object, set[Any]] = {}
        self._if_not_committed: list[Callable[[], None]] = []

    def before_commit(self, key: object, action: Callable[[], None]) -> None:
        self._before_commit.setdefault(key, action)

    def gather(self, key: object, item: Any, action: Callable[[list[Any]], None]) -> None:
        """`item` among the items of `key`, which `action` gets (once, every job's, sorted) before the commit."""
        items = self._gathered.setdefault(key, set())
        items.add(item)
        self.before_commit(key, lambda: action(sorted(items)))

    def if_not_committed(self, action: Callable[[], None]) -> None:
        self._if_not_committed.append(action)


class _Job(Generic[T]):
    def __init__(self, work: Callable[[Batch], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class CleanRefusal(Exception):
    """Raised by a group-commit job before it has written anything: the batch goes on without it."""


class _Poisoned(Exception):
    """A job failed after it may have written: the batch's transaction cannot be committed as it is."""


class GroupCommit:
    """Units of work from many threads committed together: one transaction, one round of fsyncs and one
    commit for all the jobs waiting at that moment (group commit, as databases do for their own logs).

    A caller queues its job and waits for the writer's turn; whoever gets the turn runs every queued job
    (its own and the others') and wakes their callers, who find their outcome ready. Nothing is answered
    before the commit: a job's outcome is only seen once the whole batch is durable.

    A job refuses with a CleanRefusal before writing anything, and the batch goes on without it. Any other
    failure rolls the batch back and each job is run again in a transaction of its own, so that only the
    failing one fails (savepoints would isolate jobs too, at two statements per job on every batch).

    Durability: on SQLite the group commit's connection commits with synchronous=NORMAL (every other
    connection uses FULL). A commit survives a crash of the process, but a power cut may take the last
    batches' rows with it; so what is committed here must be recoverable from what the jobs made durable
    themselves before the commit, or be allowed to be lost that way (the audit's access events, a choice
    explained in mie.service.audit). Instances are recoverable: their files are fsynced under their final names before
    the commit, and start-up recovery registers again a complete instance that no row knows
    (`mie.service.ingest.adopt_instance`). This spares an fsync of the log per batch: about 20% of the
    C-STORE rate.

    With `durable=True` (the messages of §2.1-§2.5, whose rows are the only copy of what was acknowledged)
    the connection keeps synchronous=FULL: each batch's commit waits for its fsync, paid once per batch."""

    MAX_BATCH = 64

    def __init__(self, database: Database, durable: bool = False) -> None:
        self._database = database
        self._durable = durable
        self._queued: list[_Job[Any]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        # Kept open between batches (used only by whoever has the turn): checking a connection out of the
        # pool and back in cost about as much as the statements of a batch of one.
        self._connection: Connection | None = None

    def run(self, work: Callable[[Batch], T]) -> T:
        job: _Job[T] = _Job(work)
        with self._queue_lock:
            self._queued.append(job)
        with self._turn:
            while not job.done:
                with self._queue_lock:
                    batch, self._queued = self._queued[: self.MAX_BATCH], self._queued[self.MAX_BATCH :]
                self._commit(batch)
        return job.outcome()

    def _commit(self, jobs: list[_Job[Any]]) -> None:
        try:
            if self._transaction(jobs) == "poisoned" and len(jobs) > 1:
                for job in jobs:
                    job.result, job.error = None, None
                    self._transaction([job])
        finally:
            for job in jobs:
                job.done = True

    def _transaction(self, jobs: list[_Job[Any]]) -> Literal["committed", "poisoned", "failed"]:
        """Run `jobs` in one transaction and commit it. Poisoned: a job failed after it may have written;
        failed: the transaction itself did (every job then fails with its error). Either way, nothing is
        committed and every job's effects outside the database are undone."""
        batch: Batch | None = None
        if self._connection is None:
            self._connection = self._database.engine.connect()
            if self._database.dialect == "sqlite" and not self._durable:
                # See the class's note on durability: a batch's commit waits for no fsync of SQLite's log.
                self._connection.connection.dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
        try:
            with self._database.unit_of_work(self._connection) as repository:
                batch = Batch(repository)
                for job in jobs:
                    try:
                        job.result = job.work(batch)
                    except CleanRefusal as refusal:
                        job.error = refusal
                    except Exception as error:
                        job.error = error
                        raise _Poisoned from error
                for action in batch._before_commit.values():
                    action()
            return "committed"
        except BaseException as error:
            for undo in reversed(batch._if_not_committed if batch else []):
                try:
                    undo()
                except Exception:  # noqa: S110 - the failure being reported is the commit's, not the undo's
                    pass
            if isinstance(error, _Poisoned):
                return "poisoned"
            self._reconnect()
            for job in jobs:
                job.error = job.error or error
            return "failed"

    def _reconnect(self) -> None:
        """After a failed transaction the connection may be broken (a server restart): the next batch opens
        a new one."""
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: S110 - already broken; a new one is opened next time
                pass
            self._connection = None

    def close(self) -> None:
        with self._turn:
            self._reconnect()


class Database:
    """An engine and the sessions made from it."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = normalise_url(url)
        connect_args: dict[str, object] = {}
        if self.url.startswith("sqlite"):
            connect_args["check_same_thread"] = False
        elif schema:
            connect_args["options"] = f"-csearch_path={schema}"
        sqlite = self.url.startswith("sqlite")
        # A pre-ping is a round trip per checkout: worth it for a server's connections, which can drop; an
        # SQLite file's cannot.
        self.engine: Engine = create_engine(self.url, connect_args=connect_args, pool_pre_ping=not sqlite)
        # SQLite has one writer at a time. Writers queue for their turn rather than in SQLite's busy handler,
        # which polls (sleeping up to 100 ms between tries) and lets late comers overtake: p99 of a second
        # under 8 HTTP connections, and a second SCP process made C-STORE slower, not faster.
        self._writer_turn: AbstractContextManager[object] = (
            _WriterTurn(_lock_file_of(self.engine.url.database)) if sqlite else nullcontext()
        )
        self.group_commit = GroupCommit(self)
        # The messages' records (§2.1-§2.5) are acknowledged from their rows alone: committed with FULL.
        self.message_commit = GroupCommit(self, durable=True)
        # The audit's events, committed together and without waiting for the disk (mie.service.audit).
        self.audit_commit = GroupCommit(self)
        self._before_dispose: list[Callable[[], None]] = []
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_all(self) -> None:
        """Today's tables, without a schema revision (tests' fresh databases; a processor uses `mie.store.schema.prepare`)."""
        SQLModel.metadata.create_all(self.engine)

    @contextmanager
    def exclusive(self) -> Iterator[Connection]:
        """A connection in a transaction, in the writers' turn (on SQLite): for schema changes."""
        with self._writer_turn, self.engine.begin() as connection:
            yield connection

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
    def unit_of_work(self, connection: Connection | None = None) -> Iterator[Repository]:
        """One transaction, through the repository: committed when the block ends cleanly, else rolled back.

        On a connection of the pool, or on `connection` (one the caller keeps open between transactions)."""
        if connection is None:
            with self._writer_turn, self.engine.begin() as pooled:
                yield Repository(pooled)
        else:
            with self._writer_turn, connection.begin():
                yield Repository(connection)

    @contextmanager
    def reading(self) -> Iterator[Repository]:
        """A unit of work that only reads (the queries of §2.6-§2.8): one consistent snapshot, without waiting
        for the writers' turn on SQLite, nor holding it; so it must not write."""
        with self.engine.connect() as connection:
            connection.execution_options(**{_READ_ONLY: True})
            with connection.begin():
                yield Repository(connection)

    def before_dispose(self, action: Callable[[], None]) -> None:
        """Have `action` run first when the database is disposed of (the audit commits what its journal holds)."""
        self._before_dispose.append(action)

    def dispose(self) -> None:
        """Close every connection (the group commits' and the pool's)."""
        for action in self._before_dispose:
            action()
        self.group_commit.close()
        self.message_commit.close()
        self.audit_commit.close()
        self.engine.dispose()

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return self.engine.url.render_as_string(hide_password=True)
