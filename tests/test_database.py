"""SQLite writers of several processes (mie serve --workers/--dicom-workers) take turns on a file lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from mie.store.database import Database

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
