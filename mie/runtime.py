"""What a running processor holds: its settings and its database. Entry points get it from here."""

from __future__ import annotations

from dataclasses import dataclass

from mie.config import Settings
from mie.store.database import Database


@dataclass
class Runtime:
    settings: Settings
    database: Database

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.effective_database_url)
        database.create_all()
        return cls(settings=settings, database=database)


_current: Runtime | None = None


def set_runtime(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no processor is running in this process (mie.runtime.set_runtime was not called)")
    return _current
