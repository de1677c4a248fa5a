"""`mie db upgrade` and `mie db current`: the database's schema revision, for the CLI (which touches no storage
itself)."""

from __future__ import annotations

from dataclasses import dataclass

from mie.config import Settings
from mie.store.database import Database
from mie.store.schema import SchemaError, prepare, state

__all__ = ["DatabaseState", "SchemaError", "database_state", "upgrade_database"]


@dataclass(frozen=True)
class DatabaseState:
    database: str  # the database as its URL says it, without a password
    status: str  # current, behind, ahead, empty...
    words: str  # the state in a sentence, as `mie db current` prints it
    before: str | None = None  # the status an upgrade found


def upgrade_database(settings: Settings) -> DatabaseState:
    """Bring the database to the current revision (creating it when empty)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.effective_database_url)
    try:
        before = prepare(database, upgrade=True, extra_locations=settings.migrations)
        after, words = state(database, settings.migrations)
    finally:
        database.dispose()
    return DatabaseState(database.describe(), after.status, words, before.status)


def database_state(settings: Settings) -> DatabaseState:
    database = Database(settings.effective_database_url)
    try:
        found, words = state(database, settings.migrations)
    finally:
        database.dispose()
    return DatabaseState(database.describe(), found.status, words)
