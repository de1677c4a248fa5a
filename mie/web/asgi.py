"""`mie.web.asgi:app` for uvicorn/gunicorn workers: settings come from MIE_ environment variables.

Start-up recovery runs here only when no parent did it: `mie serve --workers N` recovers once, before the SCP
or any worker accepts, and marks its workers with MIE_RECOVERED_BY (its process id). A worker that recovered
itself would do so while the SCP is already writing, and could remove the temporary file of an instance in
flight. Started some other way (gunicorn, uvicorn by hand), with several workers, run `mie serve` or open the
processor once before starting them.
"""

from __future__ import annotations

import os

from mie.config import RECOVERED_BY, settings_from_environment
from mie.runtime import Runtime
from mie.web.app import create_app


def recovered_by_parent() -> bool:
    return os.environ.get(RECOVERED_BY) == str(os.getppid())


app = create_app(Runtime.open(settings_from_environment(), recover=not recovered_by_parent()))
