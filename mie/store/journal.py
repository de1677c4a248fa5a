"""An append-only journal of records, one file per process, that outlives a crash of the process that writes it.

A record is one line of JSON appended by a single write(2) to `<directory>/<pid>-<random>.jsonl`, opened with
O_APPEND: once `append` returns, the line is in the kernel's page cache, so a crash of the process (SIGKILL, an
exception that ends it) cannot take it back; a power cut can (no fsync: see mie.service.audit for why that is
the audit's choice). The writer commits what it has appended elsewhere (`drain`) and then empties its file.

A journal's file is held under flock(LOCK_EX) by its process for as long as that process lives. A file whose lock
can be taken belongs to a process that is gone: `adopt_orphans` hands its records on and removes it. The records
of a process that died between committing a drain and emptying its file come back that way too; whoever commits
them must recognise a record it already holds (the audit compares each adopted event with its rows).
"""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

Commit = Callable[[list[dict[str, Any]]], None]


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._descriptor: int | None = None
        self._opened_in: int | None = None
        self._path: Path | None = None
        self._committed = 0  # bytes of the file already handed to a commit

    def _file(self) -> int:
        # Opened per process: a child forked with the parent's descriptor would share its file and its lock.
        if self._descriptor is None or self._opened_in != os.getpid():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.jsonl"
            # Made under another name and locked before it is named: an adopter never sees it unlocked.
            making = path.with_suffix(".new")
            descriptor = os.open(making, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.rename(making, path)
            self._descriptor, self._opened_in, self._path, self._committed = descriptor, os.getpid(), path, 0
        return self._descriptor

    def append(self, record: dict[str, Any]) -> None:
        """Write one record; in the page cache when this returns."""
        line = orjson.dumps(record) + b"\n"
        with self._lock:
            descriptor = self._file()
            written = os.write(descriptor, line)
            if written != len(line):  # a full disk: the line is cut; say so rather than lose the record silently
                raise OSError(f"journal {self._path}: wrote {written} of {len(line)} bytes")

    def drain(self, commit: Commit) -> int:
        """Hand every record appended so far to `commit`; once it returns, empty the file (appends wait meanwhile
        only for the emptying). Returns how many records were committed. `commit` raising leaves them for the next
        drain."""
        with self._lock:
            if self._path is None or self._opened_in != os.getpid():
                return 0
            path, start = self._path, self._committed
        with path.open("rb") as reading:
            reading.seek(start)
            data = reading.read()
        end = data.rfind(b"\n") + 1  # a line being written by another thread is not whole yet
        if end == 0:
            return 0
        records = [orjson.loads(line) for line in data[:end].splitlines() if line]
        commit(records)
        with self._lock:
            self._committed = start + end
            assert self._descriptor is not None
            if os.fstat(self._descriptor).st_size == self._committed:
                os.ftruncate(self._descriptor, 0)  # O_APPEND: the next line goes at the new end, 0
                self._committed = 0
        return len(records)

    def adopt_orphans(self, commit: Commit) -> int:
        """Commit and remove the journals of processes that are gone (their lock is free); returns the records."""
        adopted = 0
        for path in sorted(self.directory.glob("*.jsonl")) if self.directory.is_dir() else []:
            if path == self._path:
                continue
            try:
                descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:  # another process adopted it meanwhile
                continue
            try:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive
                try:
                    if os.stat(path).st_ino != os.fstat(descriptor).st_ino:
                        continue
                except FileNotFoundError:
                    continue  # adopted by another process while this one waited for the lock
                with os.fdopen(os.dup(descriptor), "rb") as reading:
                    data = reading.read()
                whole = data[: data.rfind(b"\n") + 1]  # a line cut by the crash was never appended
                records = [orjson.loads(line) for line in whole.splitlines() if line]
                if records:
                    commit(records)
                path.unlink(missing_ok=True)
                adopted += len(records)
            finally:
                os.close(descriptor)
        return adopted

    def close(self) -> None:
        """Close and remove this process's file: call only once everything in it is committed."""
        with self._lock:
            if self._descriptor is not None and self._opened_in == os.getpid():
                if os.fstat(self._descriptor).st_size == 0 and self._path is not None:
                    self._path.unlink(missing_ok=True)
                os.close(self._descriptor)
            self._descriptor, self._path, self._opened_in, self._committed = None, None, None, 0
