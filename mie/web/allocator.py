"""The C allocator of a serving process keeps the memory it frees for the next answer.

An answer of §2.8 allocates a few large buffers (the file, its base64, the body) and frees them once sent. glibc's
malloc serves a buffer above its mmap threshold with a fresh mapping, and gives the top of its heap back to the
kernel once more than its trim threshold is free (both thresholds adapt, from 128 KiB): so each answer had its
megabytes mapped again, faulted in page by page and zeroed by the kernel, which cost more CPU than everything mie
does for the request. With the thresholds raised, freed buffers are reused; a process keeps at most TRIM_BYTES of
free heap beyond what it uses, and a buffer above MMAP_BYTES still gets a mapping of its own (a stream's pieces are
far smaller: memory stays bounded as before). Linux with glibc only; elsewhere nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util

MMAP_BYTES = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit systems
TRIM_BYTES = 64 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Raise this process's malloc thresholds (see the module's docstring); whether the allocator took them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
