"""Alembic's environment. mie runs it itself (`mie.store.schema`), always on a connection it has opened and locked:
no URL, no alembic.ini. The connection's search_path decides the PostgreSQL schema, so alembic_version goes
wherever mie's tables go."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from mie.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)

# Already in a transaction: Alembic joins it, and mie.store.schema commits or rolls back the whole.
context.configure(connection=context.config.attributes["connection"], target_metadata=SQLModel.metadata)
with context.begin_transaction():
    context.run_migrations()
