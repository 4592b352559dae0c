"""Exit codes of ``zone-opt`` and the one place an exception becomes a message and a code.

No traceback reaches a user: :func:`report` prints a short message on stderr naming the
field, row, file or option and the reason, and returns the documented exit code
(``zone-opt --help`` lists them). ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from enum import IntEnum

from zone_opt.errors import (
    CancelledError,
    DeadlineExceededError,
    InvalidInputError,
    ServiceError,
    SolverError,
    VerificationError,
    ZoneOptError,
)

__all__ = ["EPILOG", "ExitCode", "exit_code_of", "interrupted", "report"]


class ExitCode(IntEnum):
    """What a ``zone-opt`` process's exit status means."""

    OK = 0
    #: the problem is infeasible, the solver found no solution, or the work was cancelled
    NO_SOLUTION = 1
    #: bad input: an option, a file, a table row or a field of a YAML file
    BAD_INPUT = 2
    #: the server failed or could not be reached
    SERVER = 3
    #: a bug in zone-opt (``zone-opt --debug ...`` shows the traceback)
    INTERNAL = 4
    #: interrupted (Ctrl-C); no partial output file is left
    INTERRUPTED = 130


#: The exit-code table of ``zone-opt --help`` (click keeps ``\b`` paragraphs as written).
EPILOG = """\b
Exit codes:
  0    success
  1    infeasible, no solution, or cancelled
  2    bad input (option, file, table row, YAML field)
  3    server error (unreachable, internal, overloaded)
  4    internal error (`zone-opt --debug ...` shows the traceback)
  130  interrupted (Ctrl-C); no partial output is left

\b
Shell completion (bash; zsh and fish alike):
  eval "$(_ZONE_OPT_COMPLETE=bash_source zone-opt)"
"""

#: gRPC status names of a failure on the server's side, not in the request.
SERVER_STATUSES = frozenset(
    {
        "UNAVAILABLE",
        "INTERNAL",
        "UNKNOWN",
        "DATA_LOSS",
        "DEADLINE_EXCEEDED",
        "RESOURCE_EXHAUSTED",
        "ABORTED",
        "UNIMPLEMENTED",
    }
)

#: Violations shown before "... and N more" (one screen).
MAX_SHOWN = 12


def _is_from(exc: BaseException, package: str, name: str) -> bool:
    """Whether ``exc`` is a ``package.name`` (checked only if ``package`` was imported, so
    classifying an error never imports pyarrow, yaml or grpc)."""
    module = sys.modules.get(package)
    cls = getattr(module, name, None) if module is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _is_file_error(exc: BaseException) -> bool:
    return isinstance(
        exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError
    )


def exit_code_of(exc: BaseException) -> ExitCode:
    """The exit code of a command that raised ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(exc, ZoneOptError):
        return _zone_opt_code(exc)
    if _is_file_error(exc):
        return ExitCode.BAD_INPUT
    if _is_from(exc, "pyarrow", "ArrowException") or _is_from(exc, "yaml", "YAMLError"):
        return ExitCode.BAD_INPUT
    if _is_from(exc, "grpc", "RpcError"):
        return ExitCode.SERVER
    return ExitCode.INTERNAL


def _zone_opt_code(exc: ZoneOptError) -> ExitCode:
    remote = exc.status_code is not None
    if isinstance(exc, CancelledError):
        return ExitCode.NO_SOLUTION
    if not remote and isinstance(exc, SolverError | DeadlineExceededError):
        return ExitCode.NO_SOLUTION
    if isinstance(exc, ServiceError | VerificationError) or exc.status_code in SERVER_STATUSES:
        return ExitCode.SERVER
    return ExitCode.BAD_INPUT


def _headline(exc: BaseException, code: ExitCode) -> str:
    if _is_file_error(exc):
        assert isinstance(exc, OSError)
        name = exc.filename if exc.filename is not None else "?"
        return f"{name}: {exc.strerror or exc}"
    if isinstance(exc, InvalidInputError) and exc.violations:
        n = len(exc.violations)
        return "invalid input: " + (str(exc.violations[0]) if n == 1 else f"{n} problems")
    if code is ExitCode.SERVER and not isinstance(exc, ZoneOptError):
        return f"server error: {exc}"
    if code is ExitCode.INTERNAL:
        return (
            f"internal error: {type(exc).__name__}: {exc} "
            "(run `zone-opt --debug ...` for the traceback)"
        )
    if isinstance(exc, ZoneOptError) and exc.status_code is not None:
        return f"{exc} (server status {exc.status_code})"
    return str(exc) or type(exc).__name__


def report(exc: BaseException, *, debug: bool = False) -> int:
    """Print ``exc`` for a user on stderr (with its traceback if ``debug``); its exit code."""
    if isinstance(exc, BrokenPipeError):  # `zone-opt ... | head`: stdout closed early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    if isinstance(exc, KeyboardInterrupt):
        return interrupted()
    code = exit_code_of(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/] {escape(_headline(exc, code))}")
    if isinstance(exc, InvalidInputError) and len(exc.violations) > 1:
        for v in exc.violations[:MAX_SHOWN]:
            row = "" if v.row is None else f" (row {v.row})"
            console.print(f"  [bold]{escape(v.field)}[/]{row}: {escape(v.reason)}")
        if len(exc.violations) > MAX_SHOWN:
            console.print(f"  ... and {len(exc.violations) - MAX_SHOWN} more")
    return code


def interrupted() -> int:
    """Say that Ctrl-C stopped the command; its exit code."""
    sys.stderr.write("interrupted (Ctrl-C): stopped; no partial output file is left\n")
    return ExitCode.INTERRUPTED
