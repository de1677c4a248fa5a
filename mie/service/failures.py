"""What the CLI says of a failure of the storage stack, without loading that stack itself.

SQLAlchemy and alembic are imported only by the commands that use them (their import is most of a second, which
`mie validate` need not pay): an error of theirs means they are loaded, so they are looked up, not imported.
"""

from __future__ import annotations

import sys
from typing import Literal

Failure = tuple[Literal["schema", "unreachable", "setting"], str]


def storage_failure(error: BaseException) -> Failure | None:
    """("schema", message) for a database at another schema revision, ("unreachable", message) for a database that
    cannot be reached (only what the driver says first: no statement, no parameters), ("setting", message) for an
    --object-store that is not one; None for anything else."""
    schema, driver = sys.modules.get("mie.store.schema"), sys.modules.get("sqlalchemy.exc")
    objects = sys.modules.get("mie.store.objects")
    if objects is not None and isinstance(error, objects.ObjectStoreURL):
        return "setting", str(error)
    if schema is not None and isinstance(error, schema.SchemaError):
        return "schema", str(error)
    if driver is not None and isinstance(error, driver.OperationalError):
        return "unreachable", str(error.orig or error).strip().splitlines()[0]
    return None
