"""`mie storage migrate`: move every stored file (instances and reports) from the storage area the processor uses
now (the data directory, or the bucket of --object-store) to another, without losing one.

The processor is stopped while it runs (a running one would store new files in the area being emptied). What it
guarantees, interrupted anywhere and run again:
- First every file a row knows is copied to the target unless the target already holds it with the row's MD5:
  read from the source as a stream into the spool (its MD5 checked against the row's), stored in the target (S3
  checks the Content-MD5 sent with it; a local file is fsynced), then read back from the target and hashed: only a
  file whose target copy has the row's MD5 counts as copied. A run interrupted here leaves the source whole: the
  processor may be started again on it as if nothing happened.
- Only when every file is copied and verified are the source's copies removed. A run interrupted here leaves
  every file verified in the target; running it again verifies them again and removes what is left.
The copy is idempotent, so no column records where a file is: the target holding the row's MD5 is the record.
Then the processor is started with the target (`--object-store s3://...`, or without it for the data directory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mie.config import Settings
from mie.store.database import Database
from mie.store.files import FileStore, StorageArea, StorageUnavailable

LOCAL = "local"
"""The --to value for files in the data directory."""


@dataclass(frozen=True)
class Step:
    """One file handled: `done` of `total`, its name and what was done (copied, present, removed, missing, failed)."""

    done: int
    total: int
    name: str
    outcome: str
    detail: str = ""


@dataclass
class Migration:
    """What a run did; `complete` when every file is in the target, verified, and no longer in the source."""

    source: str
    target: str
    total: int = 0
    copied: int = 0
    present: int = 0  # already in the target with the row's MD5 (an earlier run's work)
    removed: int = 0
    missing: list[str] = field(default_factory=list)  # in neither area with the row's MD5
    failed: list[str] = field(default_factory=list)  # the source or target could not be read or written now

    @property
    def complete(self) -> bool:
        return not self.missing and not self.failed


class SameArea(ValueError):
    """The target is the area the processor uses already."""


def describe(object_store: str | None) -> str:
    return object_store or LOCAL


def migrate(settings: Settings, to: str, progress: Callable[[Step], None] = lambda step: None) -> Migration:
    """Move every stored file from the area `settings` name to `to` (`local` or s3://BUCKET[/PREFIX])."""
    target_url = None if to == LOCAL else to
    if (target_url or "").rstrip("/") == (settings.object_store or "").rstrip("/"):
        raise SameArea(f"文件已在 {describe(settings.object_store)}，无需迁移")
    target = FileStore(settings.data_dir, storage_area(target_url))  # an s3:// that is not one stops here
    database = Database(settings.effective_database_url)
    try:
        from mie.store.schema import prepare

        prepare(database, upgrade=False, extra_locations=settings.migrations)
        source = FileStore(settings.data_dir, storage_area(settings.object_store))
        with database.unit_of_work() as repository:
            files = repository.stored_files()
    finally:
        database.dispose()
    result = Migration(describe(settings.object_store), describe(target_url), total=len(files))
    for done, (name, md5) in enumerate(files, start=1):
        outcome, detail = _copy(source, target, Path(name), md5)
        if outcome == "copied":
            result.copied += 1
        elif outcome == "present":
            result.present += 1
        elif outcome == "missing":
            result.missing.append(name)
        else:
            result.failed.append(name)
        progress(Step(done, len(files), name, outcome, detail))
    if not result.complete:
        return result  # the source stays whole: nothing is removed until every file is in the target
    for done, (name, _) in enumerate(files, start=1):
        try:
            source.remove(Path(name))
        except (StorageUnavailable, OSError) as error:
            result.failed.append(name)
            progress(Step(done, len(files), name, "failed", str(error)))
            continue
        result.removed += 1
        progress(Step(done, len(files), name, "removed"))
    return result


def storage_area(object_store: str | None) -> StorageArea | None:
    """The area of an --object-store value (None: the data directory's, FileStore's default)."""
    if object_store is None:
        return None
    from mie.store.objects import S3Area  # boto3 is imported only when a bucket is named

    return S3Area.from_url(object_store)


def _copy(source: FileStore, target: FileStore, name: Path, md5: str) -> tuple[str, str]:
    """Put one file into the target unless it holds it already; ("copied" | "present" | "missing" | "failed", why)."""
    try:
        if _digest(target, name) == md5:
            return "present", ""
        try:
            with source.open_stored(name) as stored:
                spooled = target.spool_stream(stored)
        except FileNotFoundError:
            return "missing", "源存储和目标存储中都没有 MD5 相符的副本"
        try:
            if spooled.md5 != md5:
                return "failed", f"源文件的 MD5 为 {spooled.md5}，数据库记录为 {md5}"
            target.commit(spooled, name)
        finally:
            target.discard(spooled)  # S3 copies it, the data directory renames it away: either way it is done
        found = _digest(target, name)
        if found != md5:
            return "failed", f"目标存储中的 MD5 为 {found}，应为 {md5}"
        return "copied", ""
    except (StorageUnavailable, OSError) as error:
        return "failed", str(error)


def _digest(store: FileStore, name: Path) -> str | None:
    """The MD5 of a stored file, read as a stream; None when there is none."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with store.open_stored(name) as stored:
            while chunk := stored.read(1024 * 1024):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()
