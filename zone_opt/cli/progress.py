"""Progress bars on stderr (rich), and Ctrl-C answered at once, as a cancel request to a
solver where the solver takes one.

A bar is drawn only when stderr is a terminal (or ``FORCE_COLOR`` is set) and the user did
not pass ``--no-progress``: piped output and logs stay clean. rich is imported on use.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from zone_opt.errors import CancelledError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["Bar", "cancel_on_interrupt", "in_worker", "progress_bar", "solve_interruptibly"]

T = TypeVar("T")


class Bar:
    """One task's progress: ``total`` steps (None: unknown), a short status after it."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self._progress, self._task = progress, task

    def update(
        self, completed: float | None = None, *, total: float | None = None, status: str = ""
    ) -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, completed=completed, total=total, status=status)

    def advance(self, steps: float = 1.0, *, status: str = "") -> None:
        if self._progress is None or self._task is None:
            return
        self._progress.update(self._task, advance=steps, status=status)


@contextmanager
def progress_bar(description: str, total: float | None, *, enabled: bool = True) -> Iterator[Bar]:
    """A bar for the block (a no-op :class:`Bar` when disabled or stderr is no terminal)."""
    if not enabled:
        yield Bar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield Bar(None, None)
        return
    count = MofNCompleteColumn() if total is not None and total > 1 else TaskProgressColumn()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        count,
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    ) as progress:
        yield Bar(progress, progress.add_task(description, total=total, status=""))


def in_worker(work: Callable[[], T]) -> T:
    """``work()`` run in a worker thread while this (the main) thread waits for it, so that
    Ctrl-C is answered at once even while the work is inside a solver or the Rust engine
    (Python runs signal handlers in the main thread only). A Ctrl-C that raises
    :class:`KeyboardInterrupt` here leaves the worker (a daemon) to end with the process."""
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=target, name="zone-opt-work", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if failure:
        raise failure[0]
    return outcome[0]


def solve_interruptibly(work: Callable[[threading.Event], T]) -> T:
    """``work(cancel)`` in a worker thread (:func:`in_worker`), for solvers that poll a
    cancel event: the first Ctrl-C sets it (the solver stops at its next check), a second
    one stops at once; either way :class:`KeyboardInterrupt` is raised once the work ends."""
    with cancel_on_interrupt() as cancel:
        return in_worker(lambda: work(cancel))


@contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """While the block runs, Ctrl-C sets the event yielded (for solvers that poll a cancel
    event and stop at their next check) instead of raising inside the solver; a second
    Ctrl-C raises at once. Leaving the block after a Ctrl-C raises
    :class:`KeyboardInterrupt` (also when the solver answered the cancel with
    :class:`CancelledError`)."""
    event = threading.Event()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        sys.stderr.write("\nstopping at the solver's next check (Ctrl-C again to stop now)\n")

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main else None
    try:
        yield event
    except CancelledError:
        if event.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        if main:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if event.is_set():
        raise KeyboardInterrupt
