"""Process-wide tuning of glibc's allocator for a server that moves large buffers.

Every upload chunk the server receives becomes a fresh ``bytes`` of about 4 MiB (grpcio
joins the message's slices into one), and validation allocates per-column buffers of
tens of MiB. With glibc's defaults such buffers are mmapped, or trimmed back to the
kernel when freed, so the next ones fault in fresh zeroed pages: about 15,000 page
faults per 100 MB upload, which on a virtual machine (several microseconds a fault)
cost more CPU than hashing the upload. Serving allocations up to
:data:`MMAP_THRESHOLD_BYTES` from the heap and keeping freed heap memory for reuse
brought that to about 2,000. Called once by ``zone-opt serve``, which owns the process;
the library never changes the allocator of a process that imports it.
"""

from __future__ import annotations

import ctypes
import logging

__all__ = ["MMAP_THRESHOLD_BYTES", "keep_freed_memory"]

log = logging.getLogger(__name__)

# mallopt(3) parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations below this come from the heap (glibc's default starts at 128 KiB and
#: adapts up to 32 MiB, which leaves the validator's buffers mmapped).
MMAP_THRESHOLD_BYTES = 64 * 1024 * 1024


def keep_freed_memory(retain_bytes: int) -> bool:
    """Serve allocations below :data:`MMAP_THRESHOLD_BYTES` from the heap and keep up to
    ``retain_bytes`` of freed heap memory in the process for reuse (glibc ``mallopt``).

    True if applied; False for ``retain_bytes <= 0`` (glibc's defaults kept) or where the
    C library has no ``mallopt``. Memory: the resident size stays near its high-water
    mark, less anything freed beyond ``retain_bytes``.
    """
    if retain_bytes <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    trim = min(retain_bytes, 2**31 - 1)
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim)
    )
    log.info(
        "event=allocator mmap_threshold_bytes=%d trim_threshold_bytes=%d applied=%s",
        MMAP_THRESHOLD_BYTES,
        trim,
        applied,
    )
    return applied
