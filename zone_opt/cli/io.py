"""Files in and out of the commands.

In: a Parquet table or YAML file named by an option, every failure an
:class:`InvalidInputError` naming the option, the file and the reason. Out: outputs are
written to a temporary file or directory beside the target and renamed into place at the
end, so an error or Ctrl-C leaves no partial output. pyarrow is imported on use.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from zone_opt.cli.exits import ExitCode, exit_code_of
from zone_opt.errors import InvalidInputError, NotFoundError, ZoneOptError

if TYPE_CHECKING:
    import pyarrow as pa

    from zone_opt.datasets import Region

__all__ = ["read_parquet", "read_region", "reading", "staged_dir", "staged_file"]


@contextmanager
def reading(path: Path | None, option: str) -> Iterator[None]:
    """Turn an unreadable ``path`` (missing, a directory, no permission, not Parquet, not
    YAML) into an :class:`InvalidInputError` naming ``option``, the file and the reason."""
    try:
        yield
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
        where = exc.filename if exc.filename is not None else path
        raise InvalidInputError.single(option, None, f"{where}: {exc.strerror or exc}") from exc
    except Exception as exc:
        if isinstance(exc, ZoneOptError) or exit_code_of(exc) != ExitCode.BAD_INPUT:
            raise
        where = "" if path is None else f"{path}: "
        raise InvalidInputError.single(option, None, f"{where}{_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if type(exc).__module__.startswith("pyarrow"):
        return f"not a readable Parquet file ({text})"
    if type(exc).__module__.startswith("yaml"):
        return f"not valid YAML ({text})"
    return text


def read_parquet(path: Path, option: str) -> pa.Table:
    """Read the Parquet file ``path``; a missing or unreadable file is an error naming
    ``option`` and the file."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise NotFoundError(f"{option}: no such file {path}")
    with reading(path, option):
        return pq.read_table(path)


def read_region(directory: Path, option: str) -> Region:
    """The validated region in ``directory``, each Parquet file's footer checked first so
    that a damaged file is named."""
    import pyarrow.parquet as pq

    from zone_opt.datasets import TABLE_NAMES
    from zone_opt.datasets import read_region as read

    for name in TABLE_NAMES:
        path = directory / f"{name}.parquet"
        if path.is_file():
            with reading(path, option):
                pq.read_metadata(path)
    return read(directory)


def _partial_name(target: Path) -> str:
    return f".{target.stem}.{secrets.token_hex(4)}.partial{target.suffix}"


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """A new directory beside ``out`` to write outputs into; when the block ends normally
    its files move into ``out`` (created if missing, other files in it kept), else it is
    removed: an error or Ctrl-C leaves ``out`` as it was."""
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=parent))
    try:
        yield stage
        if not out.exists():
            os.replace(stage, out)
            return
        for item in sorted(stage.iterdir()):
            target = out / item.name
            if item.is_dir() and target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


@contextmanager
def staged_file(out: Path) -> Iterator[Path]:
    """A temporary path beside ``out`` (same suffix) to write to; renamed to ``out`` when the
    block ends normally, removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.with_name(_partial_name(out))
    try:
        yield stage
        os.replace(stage, out)
    finally:
        stage.unlink(missing_ok=True)
