"""Option types checked when the command line is parsed, before any work starts.

A bad value is a usage error (exit 2) naming the option and the reason: ``--hours nan``,
``--start tomorrow``, a file that does not exist. Only click and the standard library are
imported here, so ``zone-opt --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from zone_opt.errors import InvalidInputError, Violation

__all__ = [
    "DATE",
    "DATETIME",
    "GAP",
    "INPUT_DIR",
    "INPUT_FILE",
    "NON_NEGATIVE",
    "OUTPUT_DIR",
    "OUTPUT_FILE",
    "POSITIVE",
    "FiniteFloat",
    "IsoDateTime",
    "gathered",
    "lang_option",
    "options_named",
]

A = TypeVar("A")
R = TypeVar("R")

if TYPE_CHECKING:  # click.ParamType is generic from click 8.5 on; subscripted for mypy only
    _FloatType = click.ParamType[float]
    _DateType = click.ParamType[dt.datetime | dt.date]
else:
    _FloatType = _DateType = click.ParamType


class FiniteFloat(_FloatType):
    """A finite number (never NaN or infinite) in an optional range."""

    name = "number"

    def __init__(
        self, low: float | None = None, high: float | None = None, *, low_open: bool = False
    ) -> None:
        self.low, self.high, self.low_open = low, high, low_open

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            x = value
        else:
            try:
                x = float(str(value))
            except ValueError:
                self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            self.fail(f"{x:g} must be {'>' if self.low_open else '>='} {self.low:g}", param, ctx)
        if self.high is not None and x >= self.high:
            self.fail(f"{x:g} must be < {self.high:g}", param, ctx)
        return x

    def __repr__(self) -> str:
        return f"FiniteFloat({self.low}, {self.high})"


class IsoDateTime(_DateType):
    """An ISO 8601 date (``2025-07-14``) or date and time (``2025-07-14T06:00``)."""

    name = "datetime"

    def __init__(self, *, date_only: bool = False) -> None:
        self.date_only = date_only

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "YYYY-MM-DD" if self.date_only else "YYYY-MM-DD[THH:MM]"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime | dt.date:
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        try:
            if self.date_only:
                return dt.date.fromisoformat(text)
            return dt.datetime.fromisoformat(text)
        except ValueError:
            want = "YYYY-MM-DD" if self.date_only else "YYYY-MM-DD or YYYY-MM-DDTHH:MM"
            self.fail(f"{text!r} is not a date: use {want}", param, ctx)


#: A number > 0 (hours, seconds): ``nan``, ``inf`` and ``0`` are refused.
POSITIVE = FiniteFloat(0.0, low_open=True)
#: A number >= 0.
NON_NEGATIVE = FiniteFloat(0.0)
#: A relative MIP gap in [0, 1).
GAP = FiniteFloat(0.0, 1.0)
DATE = IsoDateTime(date_only=True)
DATETIME = IsoDateTime()

#: An existing, readable file (not a directory).
INPUT_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
#: An existing, readable directory.
INPUT_DIR = click.Path(exists=True, file_okay=False, readable=True, path_type=Path)
#: A directory to write (created if missing; an existing file is refused).
OUTPUT_DIR = click.Path(file_okay=False, writable=True, path_type=Path)
#: A file to write (an existing directory is refused).
OUTPUT_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)

F = TypeVar("F", bound=Callable[..., Any])


def lang_option(f: F) -> F:
    """``--lang en|zh``: the language of a command's report labels (names stay as given)."""
    option = click.option(
        "--lang",
        type=click.Choice(["en", "zh"]),
        default="en",
        show_default=True,
        help="Language of the report's labels and headings: en (English) or zh (中文).",
    )
    return option(f)


@contextmanager
def options_named(names: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a library's :class:`InvalidInputError` with its parameter names (``hours``)
    replaced by the command's options (``--hours``), so the message names what to change."""
    try:
        yield
    except InvalidInputError as exc:
        if not any(v.field in names for v in exc.violations):
            raise
        renamed = [Violation(names.get(v.field, v.field), v.row, v.reason) for v in exc.violations]
        raise InvalidInputError(None, renamed) from exc


def gathered(cls: Callable[..., A]) -> Callable[[Callable[[A], R]], Callable[..., R]]:
    """Call a command with its options gathered into one ``cls`` (a frozen dataclass whose
    fields are the options' names): a command with many options takes one object. Place it
    right above the function, below the ``@click.option`` lines."""

    def decorate(f: Callable[[A], R]) -> Callable[..., R]:
        @functools.wraps(f)
        def command(**options: Any) -> R:
            return f(cls(**options))

        return command

    return decorate
