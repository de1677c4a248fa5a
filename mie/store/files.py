"""File storage that never loses or half-writes a file.

Two places. The spool (`<data>/tmp/`, always local): every arriving file is written there, hashed (MD5) while
it is written and fsynced. The storage area (`StorageArea`, Orthanc's storage-area plugin interface: put, read
whole or a range, remove, list), chosen once at start-up: `LocalArea`, files under the data directory, or
`mie.store.objects.S3Area`, objects in an S3-compatible bucket. Nothing outside this module and that one knows
which is in use.

What a stored file means, on either: once `FileStore.stage` and `FileStore.place` (with its
`Placed.make_durable`, run before the database commit) or `FileStore.commit` return, the whole file is durable
under its final name, its content confirmed by the area (local: written from the spool, fsynced, renamed, its
directory fsynced; S3: the store checked the MD5 sent with the object and answered with it). An acknowledgement
(C-STORE Success, §2.2/§2.4 success) is given only after that and the row's commit. A failure of the area raises
`StorageUnavailable` (an OSError) and leaves nothing under the final name that a row knows; the sender may push
again.

Names are built only from values checked here (DICOM UIDs, checked digests), never from a caller's string.
`recover()` at start-up removes what a crash left half-done.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from abc import ABC, abstractmethod
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
    """The spool under `root` and the storage area (by default `LocalArea(root)`)."""

    def __init__(self, root: Path, area: StorageArea | None = None) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.area = area or LocalArea(root)

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

    def commit(self, spooled: Spooled, relative: Path) -> None:
        """Store a spooled file under its final name, durably; an existing file there is replaced."""
        placed = self.area.put(spooled, relative)
        if placed.make_durable is not None:
            placed.make_durable()

    def stage(self, spooled: Spooled, relative: Path) -> Staged:
        """Before the transaction that will know the file: an area whose puts are slow (`puts_early`: a network
        store) stores it now, under a name of its own (`relative` with a random suffix, so that no two attempts
        share an object and undoing one never touches another's), in the caller's thread, so that puts run in
        parallel and not in the database's single writer's turn; others do nothing yet."""
        if not self.area.puts_early:
            return Staged(relative, stored=False)
        name = relative.with_name(f"{relative.stem}{_ATTEMPT}{uuid.uuid4().hex[:16]}{relative.suffix}")
        placed = self.area.put(spooled, name)
        assert placed.make_durable is None, "an area that puts early is durable when its put returns"
        return Staged(name, stored=True)

    def unstage(self, staged: Staged) -> None:
        """Undo `stage` when its transaction did not keep the file (refused, a duplicate, failed)."""
        if staged.stored:
            self.area.remove(staged.name)

    def place(self, spooled: Spooled, staged: Staged) -> Placed:
        """Store a spooled file under its staged name, in its transaction; durable once its `make_durable` (if
        any) has run (callers placing many files run each distinct one once, before their commit)."""
        if staged.stored:
            return Placed(staged.name, None)
        return self.area.put(spooled, staged.name)

    def unplace(self, spooled: Spooled, staged: Staged) -> None:
        """Undo `place` (its transaction did not commit): the file is no longer stored under that name (a staged
        one waits for `unstage`), and the spooled file is there for the caller to place again or discard."""
        if not staged.stored:
            self.area.unput(spooled, staged.name)

    def discard(self, spooled: Spooled) -> None:
        spooled.path.unlink(missing_ok=True)

    def remove(self, relative: Path) -> None:
        self.area.remove(relative)

    def path(self, relative: Path) -> Path:
        """The local file of a stored name (LocalArea only: tests and tools that look at the disk)."""
        assert isinstance(self.area, LocalArea), "stored files are not local files here"
        return self.area.root / relative

    def open_stored(self, relative: Path) -> StoredFile:
        """A stored file, open for reading from its start, with its `size` (FileNotFoundError if it is gone;
        StorageUnavailable if the area cannot be reached). Seekable; read as a stream, never whole. An open
        file stays readable to the end even if a deletion removes its name meanwhile."""
        return self.area.open(relative)

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
    def recover(self, known: set[str], area: str, adopt: Callable[[Path], bool] | None = None) -> list[str]:
        """After a crash: remove half-written temporaries, and stored files of `area` that no database row knows,
        unless `adopt` (given the name relative to the root) takes them in; returns the removed names."""
        removed = []
        for part in self.tmp.glob("*.part"):
            part.unlink(missing_ok=True)
            removed.append(part.as_posix())
        for relative in self.area.names(area):
            if relative.as_posix() not in known and not (adopt and adopt(relative)):
                self.area.remove(relative)
                removed.append(relative.as_posix())
        return removed


_ATTEMPT = "_"  # between a stored file's own name and its attempt's suffix: never in a DICOM UID or a digest


def stands_for(name: Path, relative: Path) -> bool:
    """Whether a stored name is `relative` itself or one attempt's name for it (`FileStore.stage`)."""
    if name == relative:
        return True
    stem, _, attempt = name.stem.partition(_ATTEMPT)
    return name.parent == relative.parent and name.suffix == relative.suffix and stem == relative.stem and attempt != ""


@dataclass(frozen=True)
class Staged:
    """The name a file is to be stored under, and whether it is stored there already (`FileStore.stage`)."""

    name: Path
    stored: bool


class StorageUnavailable(OSError):
    """The storage area could not store, read or remove a file now (unreachable, refused, timed out): nothing was
    acknowledged, and the same request may succeed later."""


@dataclass(frozen=True)
class Placed:
    """A file put in the storage area; `make_durable` (None: it is already) makes it survive a power cut, and is
    the same for every file keyed alike (`key`: local files of one directory share one directory fsync)."""

    key: object
    make_durable: Callable[[], None] | None


class StoredFile(io.BufferedReader):
    """A stored file open for reading, buffered, with its size in bytes."""

    def __init__(self, raw: io.RawIOBase, size: int, buffer_size: int = io.DEFAULT_BUFFER_SIZE) -> None:
        super().__init__(raw, buffer_size)
        self.size = size


class StorageArea(ABC):
    """Where accepted files are kept, by their names relative to the data directory (`dicom/...`, `reports/...`)."""

    puts_early = False
    """Whether instances are put before their transaction (see `FileStore.stage`)."""

    @abstractmethod
    def put(self, spooled: Spooled, relative: Path) -> Placed:
        """Store the spooled file (an existing one of that name is replaced); may consume the spooled file."""

    @abstractmethod
    def unput(self, spooled: Spooled, relative: Path) -> None:
        """Undo `put` of a file whose transaction did not commit, leaving the spooled file in place."""

    @abstractmethod
    def remove(self, relative: Path) -> None:
        """Remove a stored file (none there: nothing to do)."""

    @abstractmethod
    def open(self, relative: Path) -> StoredFile:
        """A stored file for reading (FileNotFoundError if there is none)."""

    @abstractmethod
    def names(self, area: str) -> Iterator[Path]:
        """Every stored file under `area`, relative to the root."""


class LocalArea(StorageArea):
    """Files under the data directory: renamed into place from the spool (same file system), then fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, spooled: Spooled, relative: Path) -> Placed:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled.path, target)
        return Placed(target.parent, lambda: sync_directory(target.parent))

    def unput(self, spooled: Spooled, relative: Path) -> None:
        os.replace(self.root / relative, spooled.path)

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

    def open(self, relative: Path) -> StoredFile:
        raw = io.FileIO(self.root / relative, "rb")
        try:
            return StoredFile(raw, os.fstat(raw.fileno()).st_size)
        except BaseException:
            raw.close()
            raise

    def names(self, area: str) -> Iterator[Path]:
        base = self.root / area
        if base.exists():
            for path in list(base.rglob("*")):
                if path.is_file():
                    yield path.relative_to(self.root)


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
