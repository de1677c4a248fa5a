"""File storage that never loses or half-writes a file.

Every file is written to `<data>/tmp/` (same file system), hashed while it is written, fsynced, and only
then renamed into place and its directory fsynced: a crash leaves either the whole file or nothing under
its final name. Names on disk are built only from values checked here (DICOM UIDs, checked digests),
never from a caller's string. `recover()` at start-up removes what a crash left half-done.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# PS3.5 §9.1: components of digits, no leading zero but a lone 0, separated by dots, at most 64 characters
# (the spec's UID rule, ERRATA E-UID; tests/test_columns.py checks the two agree).
UID_PATTERN = re.compile(r"^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$")
_CHUNK = 1024 * 1024


class UnsafeName(ValueError):
    """A value that may not become part of a path on disk."""


def checked_uid(value: str) -> str:
    # fullmatch: `$` alone also matches before a final newline, and "1.2.3\n" would become a directory name.
    if not isinstance(value, str) or len(value) > 64 or not UID_PATTERN.fullmatch(value):
        raise UnsafeName(f"'{value}' 不是有效的 DICOM UID")
    return value


@dataclass(frozen=True)
class Spooled:
    """A complete file in the temporary area, with its size and MD5."""

    path: Path
    size: int
    md5: str
    head: bytes = b""  # the file's first bytes, as many as its writer was asked to keep (SpoolWriter's keep_head)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    # writing -----------------------------------------------------------------------------------------------------
    @contextmanager
    def spool(self) -> Iterator[SpoolWriter]:
        """A temporary file to write into; removed on error or when not kept by `commit`."""
        writer = self.open_spool()
        try:
            yield writer
        finally:
            writer.discard()

    def open_spool(self, keep_head: int = 0) -> SpoolWriter:
        """A temporary file to write into, for a caller that writes it over time (an upload as its body arrives):
        the caller must `discard()` it in the end, which removes it unless `finish(keep=True)` kept it. Its first
        `keep_head` bytes are also kept in memory (`Spooled.head`), for a reader of the header not to open it again."""
        return SpoolWriter(self.tmp / f"{uuid.uuid4().hex}.part", keep_head)

    def spool_stream(self, stream: BinaryIO, limit: int | None = None) -> Spooled:
        """Copy a stream into the temporary area in chunks (never whole in memory)."""
        with self.spool() as writer:
            while chunk := stream.read(_CHUNK):
                writer.write(chunk)
                if limit is not None and writer.size > limit:
                    raise FileTooLarge(limit)
            return writer.finish(keep=True)

    def spool_bytes(self, pieces: Iterable[bytes]) -> Spooled:
        with self.spool() as writer:
            for piece in pieces:
                writer.write(piece)
            return writer.finish(keep=True)

    def commit(self, spooled: Spooled, relative: Path) -> Path:
        """Move a spooled file to its final place, durably; an existing file there is replaced atomically."""
        target = self.place(spooled, relative)
        sync_directory(target.parent)
        return target

    def place(self, spooled: Spooled, relative: Path) -> Path:
        """Move a spooled file to its final place, atomically; durable once `sync_directory(target.parent)`
        returns (callers placing many files in one directory sync it once)."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled.path, target)
        return target

    def unplace(self, spooled: Spooled, relative: Path) -> None:
        """Undo `place`: the file goes back to the temporary area, for the caller to place again or discard."""
        os.replace(self.root / relative, spooled.path)

    def discard(self, spooled: Spooled) -> None:
        spooled.path.unlink(missing_ok=True)

    def remove(self, relative: Path) -> None:
        target = self.root / relative
        target.unlink(missing_ok=True)
        sync_directory(target.parent)
        # drop empty study/series directories, never the root
        parent = target.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def path(self, relative: Path) -> Path:
        return self.root / relative

    def open_stored(self, relative: Path) -> BinaryIO:
        """A stored file, open for reading (FileNotFoundError if it is gone). An open file stays readable to
        the end even if a deletion removes its name meanwhile."""
        return (self.root / relative).open("rb")

    def secret(self, name: str, size: int = 32) -> bytes:
        """A random secret kept in `<data>/secrets/<name>` (mode 0600), made on first use. Every process that
        shares the data directory reads the same one; two making it at once both end with the winner's."""
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise UnsafeName(name)
        target = self.root / "secrets" / name
        try:
            return target.read_bytes()
        except FileNotFoundError:
            pass
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        candidate = self.tmp / f"{uuid.uuid4().hex}.part"
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, os.urandom(size))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(candidate, target)  # fails if another process made it first: theirs is kept
            sync_directory(target.parent)
        except FileExistsError:
            pass
        finally:
            candidate.unlink(missing_ok=True)
        return target.read_bytes()

    # recovery ------------------------------------------------------------------------------------------------------
    def recover(self, known: set[str], area: str, adopt: Callable[[Path], bool] | None = None) -> list[Path]:
        """After a crash: remove half-written temporaries, and files of `area` that no database row knows,
        unless `adopt` (given the path relative to the root) takes them in; returns the removed files."""
        removed = [part for part in self.tmp.glob("*.part")]
        for part in removed:
            part.unlink(missing_ok=True)
        base = self.root / area
        if base.exists():
            for path in base.rglob("*"):
                relative = path.relative_to(self.root)
                if path.is_file() and relative.as_posix() not in known and not (adopt and adopt(relative)):
                    path.unlink()
                    removed.append(path)
        return removed


class FileTooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"文件超过 {limit} 字节")


class SpoolWriter:
    """A file of the temporary area being written, hashed (MD5) as it is written."""

    def __init__(self, path: Path, keep_head: int = 0) -> None:
        self.path = path
        self._file = path.open("xb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self._kept = False
        self._keep_head = keep_head
        self._head = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._md5.update(data)
        if len(self._head) < self._keep_head:
            self._head += data[: self._keep_head - len(self._head)]
        self.size += len(data)

    def finish(self, keep: bool) -> Spooled:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._kept = keep
        return Spooled(self.path, self.size, self._md5.hexdigest(), bytes(self._head))

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        if not self._kept:
            self.path.unlink(missing_ok=True)


def sync_directory(directory: Path) -> None:
    """fsync a directory: the names created, renamed or removed in it are on disk when it returns."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
