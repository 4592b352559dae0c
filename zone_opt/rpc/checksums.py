"""Checksums of the Arrow IPC streams of datasets, by their names in ``Checksum``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

import blake3
import xxhash

__all__ = ["CHECKSUMS"]


class _Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def hexdigest(self) -> str: ...


#: Checksums of stored datasets, by name (``UploadHeader.checksum``), over the exact bytes
#: of the IPC stream. SHA-256 is the default (what older clients send); BLAKE3 (one thread
#: here) takes about a third of its CPU; both are cryptographic. XXH3-128 (the xxHash
#: reference library) is a non-cryptographic 128-bit checksum at about a quarter of BLAKE3's
#: CPU (6 against 24 ms per 100 MB here), for corruption in transit and on disk; what
#: :class:`zone_opt.client.Client` sends. All three release the GIL.
CHECKSUMS: dict[str, Callable[[], _Hasher]] = {
    "sha256": hashlib.sha256,
    "blake3": lambda: blake3.blake3(max_threads=1),
    "xxh3_128": xxhash.xxh3_128,
}
