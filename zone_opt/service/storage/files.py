"""Files written the way the dataset store needs them: a sink that hashes and writes the
pieces of an upload on a helper thread (direct I/O where the file system allows it), a
read-ahead over the incoming chunks, and directory fsync after a rename."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Generic, TypeVar

from zone_opt.durable import fsync_dir
from zone_opt.rpc.checksums import CHECKSUMS

__all__ = [
    "DIRECT_BLOCK_BYTES",
    "READ_AHEAD_CHUNKS",
    "STAGE_BYTES",
    "WRITEBACK_BYTES",
    "ReadAhead",
    "Sink",
    "fsync_dir",
]


def _start_writeback() -> Callable[[int, int, int], object] | None:
    """Linux ``sync_file_range(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE)``: start writing
    a written range to disk without waiting (None where libc lacks it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    call.restype = ctypes.c_int
    return lambda fd, offset, nbytes: call(fd, offset, nbytes, 2)  # SYNC_FILE_RANGE_WRITE


_WRITEBACK = _start_writeback()


#: Written bytes after which the sink asks the kernel to start writing them back.
WRITEBACK_BYTES = 16 * 1024 * 1024


#: Direct I/O transfers whole blocks from block-aligned memory; 4 KiB covers the logical
#: block size of the disks and file systems in use (a larger one fails with EINVAL, and the
#: sink then falls back to the page cache).
DIRECT_BLOCK_BYTES = 4096


#: Size of a direct-I/O staging buffer (page-aligned, whole blocks).
STAGE_BYTES = 4 * 1024 * 1024


_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


#: Staging buffers of finished uploads, kept for the next ones: memory the process has
#: already touched, so a new upload's writes cause no page faults.
_STAGES: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()


class Sink:
    """A file written and hashed (with ``checksum``) piece by piece on a helper thread, in
    order.

    ``put`` queues a piece and returns at once; ``digest`` waits for the queued pieces;
    ``sync`` queues the flush and fsync; leaving the ``with`` block waits for the queued
    work and closes the file (on errors too).

    Where the file system supports it (Linux ``O_DIRECT``: ext4, xfs, btrfs), the pieces
    are copied into a page-aligned staging buffer and written from it in whole blocks
    straight to the disk, bypassing the page cache: no kernel copy into cache pages and no
    writeback left for the final fsync (which still runs, for the file's size, its extents
    and the disk's write cache). The last partial block is written through the page cache.
    Elsewhere (tmpfs refuses ``O_DIRECT``), or if a direct write is refused, the pieces go
    through the page cache, and every :data:`WRITEBACK_BYTES` the kernel is asked to start
    writing them back (``sync_file_range``, not waited for), so the final fsync has only the
    tail left to write.
    """

    def __init__(self, path: Path, checksum: str, direct: bool = True) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        self._fd = -1
        if direct and _O_DIRECT:
            with contextlib.suppress(OSError):  # EINVAL: no direct I/O on this file system
                self._fd = os.open(path, flags | _O_DIRECT, 0o644)
        self._direct = self._fd >= 0
        if self._fd < 0:
            self._fd = os.open(path, flags, 0o644)
        self._stage: mmap.mmap | None = None
        self._staged = 0  # bytes in the staging buffer, not yet written
        self.checksum = checksum
        self._hasher = CHECKSUMS[checksum]()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zone-opt-sink")
        self._pending: list[Future[None]] = []
        self._written = 0  # bytes handed to the sink so far
        self._flushed = 0  # bytes handed to writeback (page-cache path)

    @property
    def direct(self) -> bool:
        """Whether the pieces written so far bypassed the page cache."""
        return self._direct

    def _write_all(self, data: memoryview) -> None:
        while len(data):
            data = data[os.write(self._fd, data) :]

    def _to_page_cache(self) -> None:
        """Leave direct I/O: write what is staged through the page cache from now on."""
        if self._direct:
            fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_O_DIRECT)
            self._direct = False
        if self._stage is not None and self._staged:
            self._write_all(memoryview(self._stage)[: self._staged])
        self._staged = 0

    def _write_staged_blocks(self) -> None:
        """Write the whole blocks staged so far directly; keep the partial block staged."""
        assert self._stage is not None
        whole = self._staged - self._staged % DIRECT_BLOCK_BYTES
        if not whole:
            return
        stage = memoryview(self._stage)
        done = 0
        try:
            while done < whole:
                done += os.write(self._fd, stage[done:whole])
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # Refused (a block size above DIRECT_BLOCK_BYTES): what was not written goes
            # through the page cache, as everything after it.
            stage[: self._staged - done] = stage[done : self._staged]
            self._staged -= done
            self._to_page_cache()
            return
        rest = self._staged - whole
        stage[:rest] = stage[whole : self._staged]
        self._staged = rest

    def _stage_piece(self, piece: memoryview) -> None:
        if self._stage is None:
            try:
                self._stage = _STAGES.get_nowait()
            except queue.Empty:
                self._stage = mmap.mmap(-1, STAGE_BYTES)
        stage = memoryview(self._stage)
        while len(piece) and self._direct:
            n = min(len(piece), STAGE_BYTES - self._staged)
            stage[self._staged : self._staged + n] = piece[:n]
            self._staged += n
            piece = piece[n:]
            if self._staged == STAGE_BYTES or not len(piece):
                self._write_staged_blocks()
        if len(piece):  # direct I/O was given up part way
            self._write_all(piece)

    def _write(self, piece: bytes | memoryview) -> None:
        view = memoryview(piece).cast("B")
        self._hasher.update(view)  # both release the GIL for large pieces
        self._written += len(view)
        if self._direct:
            self._stage_piece(view)
            return
        self._write_all(view)
        if _WRITEBACK is not None and self._written - self._flushed >= WRITEBACK_BYTES:
            _WRITEBACK(self._fd, self._flushed, self._written - self._flushed)
            self._flushed = self._written

    def _sync(self) -> None:
        self._to_page_cache()  # the last partial block
        os.fsync(self._fd)

    def put(self, piece: bytes | memoryview) -> None:
        self._pending.append(self._worker.submit(self._write, piece))
        if len(self._pending) > 64:  # surface errors early, keep the list short
            self._pending = [f for f in self._pending if not f.done() or f.result()]

    def digest(self) -> str:
        """Hex checksum of every piece (waits for them)."""
        for future in self._pending:
            future.result()
        self._pending.clear()
        return self._hasher.hexdigest()

    def sync(self) -> Future[None]:
        """Write what is staged, fsync the file, after the pieces queued so far."""
        return self._worker.submit(self._sync)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self._worker.shutdown(wait=True)
        os.close(self._fd)
        if self._stage is not None:
            _STAGES.put(self._stage)
            self._stage = None


T = TypeVar("T")


#: Chunks of an upload received ahead of the one being decoded and validated.
READ_AHEAD_CHUNKS = 4


_DONE = object()


class ReadAhead(Generic[T]):
    """An iterator over ``items`` that a helper thread pulls up to ``depth`` ahead of the
    consumer, so producing the next items overlaps consuming this one.

    On the server, gRPC's request iterator receives the next message only when asked, so
    without this the stream stalls (flow control) while a chunk is decoded and validated.
    Exceptions of ``items`` reach the consumer in order. :meth:`close` (from any thread)
    stops the helper at its next item and ends the iteration. Memory: ``depth`` items.
    """

    def __init__(self, items: Iterable[T], depth: int) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._pull, name="zone-opt-read-ahead", daemon=True)
        self._thread.start()

    def _offer(self, item: object) -> bool:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pull(self) -> None:
        try:
            for item in self._items:
                if not self._offer(item):
                    return
            outcome: object = _DONE
        except BaseException as exc:  # handed to the consumer, raised there
            outcome = exc
        self._offer(outcome)

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if self._stopped.is_set():
                    raise StopIteration from None
        if item is _DONE:
            self._stopped.set()
            raise StopIteration
        if isinstance(item, BaseException):
            self._stopped.set()
            raise item
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._stopped.set()
