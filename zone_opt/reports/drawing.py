"""PNG charts, drawn in a helper process beside the page.

vl-convert holds the GIL for the whole of each ``vegalite_to_png`` call (measured: a pure
Python loop on another thread made no progress while six report charts were drawn), so a
drawing *thread* runs in turn with the page's font subset, its template and the workbook,
all Python. Child processes draw instead, while the parent builds the page on its own
core: two running the script :mod:`zone_opt.reports.drawing_child` (it imports vl-convert
only), started once per process and reused. Each is a plain subprocess reading one JSON line per
chart and answering one line each, not ``multiprocessing``, whose spawned children
re-import the caller's ``__main__`` (a user's script without a ``__name__`` guard would
run again). :func:`prepare_drawing` starts it early (a command calls it when it starts,
so its runtime loads while the command reads its inputs). The child exits when its input
closes: with this process, however this process ends.

A chart drawn there is byte-identical to one drawn here (same vl-convert, font and spec;
a test compares them). If the child cannot be started or dies, charts are drawn here, as
before; a chart vl-convert rejects is drawn here too, so its error is raised as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from altair.utils._importers import vl_version_for_vl_convert

from zone_opt.reports.drawing_child import draw_png
from zone_opt.reports.fonts import FONT_DIR, register_static_font
from zone_opt.reports.i18n import Lang

__all__ = ["Drawing", "PngJob", "draw_pngs", "prepare_drawing", "write_png"]

_LOG = logging.getLogger(__name__)
CHILD_SCRIPT = Path(__file__).with_name("drawing_child.py")


def write_png(spec: Mapping[str, Any], path: Path, *, lang: Lang = "en", scale: float = 2) -> Path:
    """Draw one Vega-Lite spec to PNG with the report font, in this process. O(marks)."""
    register_static_font()
    return draw_png(spec, path, lang=lang, vl_version=vl_version_for_vl_convert(), scale=scale)


@dataclass(frozen=True)
class PngJob:
    """One chart to draw: its full spec (theme applied), the file, the label language."""

    spec: Mapping[str, Any]
    path: Path
    lang: Lang = "en"

    def draw(self) -> Path:
        """Draw in this process."""
        return write_png(self.spec, self.path, lang=self.lang)

    def line(self) -> bytes:
        """The request the child reads."""
        request = {"spec": self.spec, "path": str(self.path), "lang": self.lang}
        return json.dumps(request, ensure_ascii=False, allow_nan=False).encode() + b"\n"


class _Child:
    """One drawing process: started when first needed, replaced after it dies. Serves one
    feeding thread at a time (the lock), a request line and a reply line per chart."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def running(self) -> subprocess.Popen[bytes] | None:
        """The process (started now if need be), or ``None`` if none can be started.
        Call with :attr:`lock` held."""
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc
            _discard(self._proc)
        if not sys.executable:  # an embedded interpreter: nothing to start
            return None
        try:
            self._proc = subprocess.Popen(
                [
                    sys.executable,
                    "-P",  # not the script's folder on sys.path: it would shadow `numbers`
                    str(CHILD_SCRIPT),
                    "--font-dir",
                    str(FONT_DIR),
                    "--vl-version",
                    vl_version_for_vl_convert(),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            _LOG.warning("charts drawn in this process: no drawing process (%s)", exc)
            self._proc = None
        return self._proc

    def close(self) -> None:
        """End the process (its input closed: it exits at once)."""
        with self.lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        _discard(proc)


def _discard(proc: subprocess.Popen[bytes]) -> None:
    """Close the pipes of a process that has ended."""
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _ask(proc: subprocess.Popen[bytes], job: PngJob) -> bool:
    """Whether the child drew ``job`` (``False``: it died, or failed on this chart)."""
    stdin: IO[bytes] | None = proc.stdin
    stdout: IO[bytes] | None = proc.stdout
    if stdin is None or stdout is None:
        return False
    try:
        stdin.write(job.line())
        stdin.flush()
        reply = stdout.readline()
    except OSError:
        reply = b""
    try:
        answer = json.loads(reply) if reply else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # Died, or wrote something else to its replies: a new one is started for the
        # next chart.
        _LOG.warning("the drawing process stopped; drawing %s here", job.path.name)
        proc.kill()
        proc.wait()
        return False
    return answer.get("ok") is True


#: Drawing processes: two, so that with the page built here all of a 2-core machine
#: works; each charts' batch is shared among them from one queue.
_CHILDREN = [_Child() for _ in range(min(2, os.cpu_count() or 1))]
for _child in _CHILDREN:
    atexit.register(_child.close)


def prepare_drawing() -> None:
    """Start the drawing processes (once per process; returns at once)."""
    for child in _CHILDREN:
        with child.lock:
            child.running()


class Drawing:
    """Charts being drawn: a feeding thread per drawing process (waiting on pipes, not
    the GIL) takes the next chart from a shared queue; :meth:`result` waits for them."""

    def __init__(self, jobs: Sequence[PngJob]) -> None:
        self._jobs = list(jobs)
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(self._jobs)):
            self._queue.put(i)
        self._paths: list[Path | None] = [None] * len(self._jobs)
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._feed, args=(child,), name="report-png", daemon=True)
            for child in _CHILDREN[: len(self._jobs)]
        ]
        for thread in self._threads:
            thread.start()

    def _feed(self, child: _Child) -> None:
        with child.lock:
            while True:
                try:
                    i = self._queue.get_nowait()
                except queue.Empty:
                    return
                job = self._jobs[i]
                try:
                    proc = child.running()
                    drawn = proc is not None and _ask(proc, job)
                    self._paths[i] = job.path if drawn else job.draw()
                except BaseException as exc:  # raised in the thread that waits for charts
                    self._errors.append(exc)

    def result(self) -> list[Path]:
        """The PNG files, in the order of the jobs; the first chart's error, if any."""
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]
        return [path for path in self._paths if path is not None]


def draw_pngs(jobs: Sequence[PngJob]) -> Drawing:
    """Start drawing ``jobs`` (in the drawing processes); returns at once."""
    return Drawing(jobs)
