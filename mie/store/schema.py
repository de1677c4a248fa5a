"""The database's schema revision: Alembic migrations (mie/store/migrations/versions/), run by mie itself.

What a processor does with the database it is given (`prepare`, called by `Runtime.open`):
- empty (no mie table): created at the head revision, by running the migrations;
- mie's tables but no `alembic_version` (made before migrations existed, or by `Database.create_all`): stamped as
  the baseline revision, which is exactly that schema (tables an earlier mie did not have yet are created first,
  as create_all did), then treated as below;
- at the head: used as it is;
- behind the head: refused (`SchemaBehind`, naming `mie db upgrade`), unless upgrading was asked for
  (`mie serve --upgrade`, `mie db upgrade`);
- at a revision this code does not know (a newer mie migrated it): refused (`SchemaAhead`), upgrade or not.

Revisions not shipped in the package (a draft spec's migration, tried before it is released) are added as
extra version locations (`--migrations DIR`, MIE_MIGRATIONS); they chain onto the packaged revisions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

if TYPE_CHECKING:  # importing the store reads the contract: `mie validate --spec` chooses which one first
    from mie.store.database import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_v1_4"  # the schema of V1.4 as `Database.create_all()` made it before migrations existed
_ADVISORY_LOCK = 0x6D6965  # "mie": one migrating process at a time on a PostgreSQL database

Status = Literal["empty", "unversioned", "current", "behind", "ahead"]


class SchemaError(Exception):
    """The database cannot be used by this code as it is; the message says what to do."""


class SchemaBehind(SchemaError):
    pass


class SchemaAhead(SchemaError):
    pass


@dataclass(frozen=True)
class SchemaState:
    status: Status
    current: tuple[str, ...]  # the database's revision(s); empty when it has none
    heads: tuple[str, ...]  # what this code expects

    def describe(self, script: ScriptDirectory) -> str:
        def name(revision: str) -> str:
            try:
                found = script.get_revision(revision)
            except CommandError:
                found = None
            return f"{revision} ({found.doc})" if found is not None and found.doc else revision

        current = ", ".join(name(revision) for revision in self.current) or "none"
        return f"{self.status}: database at {current}; this mie expects {', '.join(name(head) for head in self.heads)}"


def _config(extra_locations: Sequence[Path], connection: Connection | None = None) -> Config:
    """Alembic's configuration, made here: the packaged revisions, and those of `extra_locations`."""
    locations = [MIGRATIONS_DIR / "versions", *(Path(location).resolve() for location in extra_locations)]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # Options are interpolated by configparser: a '%' in a path is doubled.
    config.set_main_option("version_locations", os.pathsep.join(str(path).replace("%", "%%") for path in locations))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory(extra_locations: Sequence[Path] = ()) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(extra_locations))


def _mie_tables() -> set[str]:
    return set(SQLModel.metadata.tables)


def _state(connection: Connection, script: ScriptDirectory) -> SchemaState:
    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    heads = tuple(sorted(script.get_heads()))
    if not current:
        found = set(inspect(connection).get_table_names()) & _mie_tables()
        return SchemaState("unversioned" if found else "empty", current, heads)
    if set(current) == set(heads):
        return SchemaState("current", current, heads)
    for revision in current:
        try:
            if script.get_revision(revision) is None:
                return SchemaState("ahead", current, heads)
        except CommandError:
            return SchemaState("ahead", current, heads)
    return SchemaState("behind", current, heads)


@contextmanager
def _migrating(database: Database) -> Iterator[Connection]:
    """One transaction, with the database to itself: DDL is transactional on both SQLite and PostgreSQL, so a
    migration that fails leaves the schema as it was."""
    with database.exclusive() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        yield connection


def _run(connection: Connection, extra_locations: Sequence[Path], destination: str, stamp: bool = False) -> None:
    config = _config(extra_locations, connection)
    if stamp:
        command.stamp(config, destination)
    else:
        command.upgrade(config, destination)


def state(database: Database, extra_locations: Sequence[Path] = ()) -> tuple[SchemaState, str]:
    """Where the database stands, and that said in words (`mie db current`)."""
    script = script_directory(extra_locations)
    with database.engine.connect() as connection:
        found = _state(connection, script)
    return found, found.describe(script)


def prepare(database: Database, upgrade: bool = False, extra_locations: Sequence[Path] = ()) -> SchemaState:
    """Make the database usable by this code, or refuse (see the module's docstring). Returns the state found."""
    script = script_directory(extra_locations)
    with _migrating(database) as connection:
        found = _state(connection, script)
        if found.status == "current":
            return found
        if found.status == "ahead":
            raise SchemaAhead(
                f"the database {database.describe()} is at revision {', '.join(found.current)}, which this mie does not know "
                "(a newer mie has migrated it): run that version of mie, or restore the backup taken before it migrated"
            )
        if found.status == "empty":
            _run(connection, extra_locations, "heads")
            return found
        if found.status == "unversioned":
            # Made by a mie before migrations: what create_all made then, on every start, it makes here once.
            baseline = script.get_revision(BASELINE)
            assert baseline is not None
            baseline.module.metadata().create_all(connection, checkfirst=True)
            _run(connection, extra_locations, BASELINE, stamp=True)
            behind = _state(connection, script)
            if behind.status == "current":
                return found
            found = behind
        if not upgrade:
            raise SchemaBehind(
                f"the database {database.describe()} is behind this mie ({found.describe(script)}): "
                "back it up and run `mie db upgrade` (or start with `mie serve --upgrade`)"
            )
        _run(connection, extra_locations, "heads")
        return found
