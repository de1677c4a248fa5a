"""`mie.web.asgi:app` for uvicorn/gunicorn workers: settings come from MIE_ environment variables.

Start-up recovery runs here only when no parent did it: `mie serve --workers N` recovers once, before the SCP
or any worker accepts, and marks its workers with MIE_RECOVERED_BY (its process id). A worker that recovered
itself would do so while the SCP is already writing, and could remove the temporary file of an instance in
flight. Started some other way (gunicorn, uvicorn by hand), with several workers, run `mie serve` or open the
processor once before starting them.
"""

from __future__ import annotations

import ctypes
import os
import signal

from mie.config import RECOVERED_BY, settings_from_environment
from mie.runtime import Runtime
from mie.web.allocator import keep_freed_memory
from mie.web.app import create_app


def recovered_by_parent() -> bool:
    return os.environ.get(RECOVERED_BY) == str(os.getppid())


def die_with_parent() -> None:
    """A worker of `mie serve` is killed with it: should `mie serve` itself be killed (a crash, SIGKILL), no worker
    goes on serving, or holding the port, beside the processor started next (Linux's PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: a normal stop of `mie serve` still stops its workers
        return
    if os.environ.get(RECOVERED_BY) != str(os.getppid()):  # the parent died before the call took effect
        os.kill(os.getpid(), signal.SIGKILL)


PR_SET_PDEATHSIG = 1

if recovered_by_parent():
    die_with_parent()
keep_freed_memory()
app = create_app(Runtime.open(settings_from_environment(), recover=not recovered_by_parent()))
