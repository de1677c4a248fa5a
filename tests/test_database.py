"""SQLite writers of several processes (mie serve --workers/--dicom-workers) take turns on a file lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mie.store.database import Batch, CleanRefusal, Database

_HOLD = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_writer_waits_while_another_process_has_the_turn(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    lock_file = tmp_path / "mie.sqlite3.writer-lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock_file), "0.6"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with database.unit_of_work() as repository:
            waited = time.monotonic() - started
            assert repository.institution_key_hash("nobody") is None
        assert waited >= 0.3, waited  # it queued behind the other process instead of writing beside it
    finally:
        holder.wait(timeout=10)


def _audit_rows(database: Database) -> list[str]:
    with database.engine.connect() as connection:
        return sorted(row[0] for row in connection.exec_driver_sql("SELECT detail FROM audit_event"))


def _in_one_batch(database: Database, jobs: list[Callable[[Batch], object]]) -> list[object]:
    """Run `jobs` from threads of their own so that they meet in one batch: a first job holds the writer's
    turn until all of them are queued behind it."""
    group = database.group_commit
    release = threading.Event()
    outcomes: list[object] = [None] * len(jobs)

    def call(index: int, job: Callable[[Batch], object]) -> None:
        try:
            outcomes[index] = group.run(job)
        except Exception as error:
            outcomes[index] = error

    blocker = threading.Thread(target=lambda: group.run(lambda batch: release.wait(10)))
    blocker.start()
    while not group._turn.locked():
        time.sleep(0.001)
    threads = [threading.Thread(target=call, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    while len(group._queued) < len(jobs):
        time.sleep(0.001)
    release.set()
    for thread in [blocker, *threads]:
        thread.join(10)
    return outcomes


def _audit_job(name: str, batches: list[int]) -> Callable[[Batch], object]:
    def job(batch: Batch) -> str:
        batches.append(id(batch))
        batch.repository.audit("H1", "test", None, name)
        return name

    return job


class _Refused(CleanRefusal):
    pass


def test_jobs_waiting_together_commit_together_and_a_clean_refusal_leaves_the_others(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    batches: list[int] = []

    def refuse(batch: Batch) -> object:
        batches.append(id(batch))
        raise _Refused("no")

    outcomes = _in_one_batch(database, [_audit_job("a", batches), refuse, _audit_job("c", batches)])
    assert outcomes[0] == "a" and isinstance(outcomes[1], _Refused) and outcomes[2] == "c"
    assert len(set(batches)) == 1  # one transaction for the three
    assert _audit_rows(database) == ["a", "c"]


def test_a_job_failing_after_writing_fails_alone_and_its_effects_are_undone(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    batches: list[int] = []
    undone: list[str] = []

    def fail_after_writing(batch: Batch) -> object:
        batch.repository.audit("H1", "test", None, "b")
        batch.if_not_committed(lambda: undone.append("b"))
        raise OSError("disk full")

    def placing(name: str) -> Callable[[Batch], object]:
        def job(batch: Batch) -> str:
            batch.if_not_committed(lambda: undone.append(name))
            return str(_audit_job(name, batches)(batch))

        return job

    outcomes = _in_one_batch(database, [placing("a"), fail_after_writing, placing("c")])
    assert outcomes[0] == "a" and isinstance(outcomes[1], OSError) and outcomes[2] == "c"
    assert _audit_rows(database) == ["a", "c"]  # b's row rolled back, a and c committed on their own
    assert sorted(undone) == ["a", "b", "b"]  # the shared attempt (a, then b failing) undone, then b on its own


def test_a_failed_commit_fails_every_job_and_undoes_them(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    undone: list[str] = []

    def job(name: str) -> Callable[[Batch], object]:
        def work(batch: Batch) -> str:
            batch.repository.audit("H1", "test", None, name)
            batch.if_not_committed(lambda: undone.append(name))
            batch.before_commit("sync", lambda: (_ for _ in ()).throw(OSError("fsync failed")))
            return name

        return work

    outcomes = _in_one_batch(database, [job("a"), job("b")])
    assert all(isinstance(outcome, OSError) for outcome in outcomes)
    assert _audit_rows(database) == [] and sorted(undone) == ["a", "b"]


def test_sqlite_commits_wait_for_the_disk_except_the_instance_group_commits_whose_files_recover_them(tmp_path: Path) -> None:
    # synchronous: 2 = FULL (fsync of the log at every commit), 1 = NORMAL (see GroupCommit's note)
    database = Database(f"sqlite:///{tmp_path / 'mie.sqlite3'}")
    database.create_all()
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    level = database.group_commit.run(lambda batch: batch.repository.connection.exec_driver_sql("PRAGMA synchronous").scalar())
    assert level == 1
    # The messages' records have no file to recover them from: their group commit waits for the disk.
    level = database.message_commit.run(lambda batch: batch.repository.connection.exec_driver_sql("PRAGMA synchronous").scalar())
    assert level == 2
    database.dispose()
