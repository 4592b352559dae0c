"""Files written whole or not at all, and renames that survive a crash.

The job store (uploads, shard manifests) and a private join's session directory keep
files a crash must leave either complete or absent: write a temporary name, fsync it,
rename it over the final name (atomic on POSIX), then fsync the directory so that the
rename itself is on disk.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["fsync_dir", "write_atomic"]


def fsync_dir(path: Path) -> None:
    """Flush directory ``path``'s entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, fsync, rename,
    fsync of the directory); returns its SHA-256, hex."""
    staged = path.with_name(path.name + ".staged")
    with open(staged, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(staged, path)
    fsync_dir(path.parent)
    return hashlib.sha256(data).hexdigest()
