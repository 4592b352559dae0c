"""What every ``zone-opt client`` action shares: the connection, JSON-lines output, and
following an operation (``--wait``, ``--watch``) to its exit code."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from zone_opt.cli.exits import ExitCode
from zone_opt.cli.params import POSITIVE
from zone_opt.cli.progress import progress_bar
from zone_opt.errors import DeadlineExceededError, UnauthenticatedError

if TYPE_CHECKING:
    from zone_opt.client import Client, Operation

__all__ = [
    "DEFAULT_DATA_DIR",
    "KINDS",
    "Connection",
    "Follow",
    "Ordered",
    "connected",
    "emit",
    "follow",
    "follow_options",
    "operation_exit_code",
    "watch",
]

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DATA_DIR = Path(".zone-opt-data")

#: Table kinds a client may upload (``zone_opt.rpc.enums.TABLE_KINDS``, spelled here so
#: that ``--help`` imports no protobuf; tests/test_cli_help.py checks they agree).
KINDS = ("enterprises", "grid_factors", "meters", "park_assets", "parks", "spaces", "tenancies")

#: google.rpc.Code numbers of a failed operation that mean its input was wrong.
_INPUT_CODES = frozenset({3, 5, 6, 7, 9, 11, 16})
#: ... that mean it stopped without a result: CANCELLED, DEADLINE_EXCEEDED (its time limit).
_NO_RESULT_CODES = frozenset({1, 4})


class Ordered(click.Group):
    """A group that lists its commands in the order they were added (not sorted)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@dataclass(frozen=True)
class Connection:
    """The ``zone-opt client`` options: where the server is and how to authenticate."""

    address: str
    token: str | None
    data_dir: Path
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    timeout_s: float

    def bearer(self) -> str:
        """``--token``, else ``ZONE_OPT_TOKEN``, else the local server's demo token."""
        if self.token:
            return self.token
        env = os.environ.get("ZONE_OPT_TOKEN")
        if env:
            return env
        demo = self.data_dir / "demo-token"
        if demo.exists():
            return demo.read_text(encoding="utf-8").strip()
        raise UnauthenticatedError(
            f"no token: pass --token or set ZONE_OPT_TOKEN (a local server's demo token is "
            f"read from {demo}, which does not exist)"
        )

    def open(self) -> Client:
        from zone_opt.client import Client, TlsConfig

        tls = None
        if self.tls_ca or self.tls_cert:
            tls = TlsConfig(self.tls_ca, self.tls_cert, self.tls_key)
        return Client(self.address, token=self.bearer(), tls=tls, timeout_s=self.timeout_s)


def connected(f: Callable[Concatenate[Client, P], R]) -> Callable[P, R]:
    """Run an action with a client connected as the ``client`` group's options say."""

    @functools.wraps(f)
    def action(*args: P.args, **kwargs: P.kwargs) -> R:
        connection = click.get_current_context().find_object(Connection)
        if connection is None:  # only when the action is run outside `zone-opt client`
            raise click.UsageError("not under `zone-opt client`")
        with connection.open() as client:
            return f(client, *args, **kwargs)

    return action


def emit(value: Any) -> None:
    """Print ``value`` as one JSON line (an operation with its result as plain values)."""
    from zone_opt.client import Operation

    if isinstance(value, Operation):
        from zone_opt.rpc.operations import to_python

        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        value = {**fields, "result": to_python(value.result) if value.result else None}
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    click.echo(json.dumps(value, default=str, ensure_ascii=False))


def operation_exit_code(op: Operation) -> int:
    """0 succeeded; 1 cancelled, past its time limit or not done yet; 2 failed on its
    input; 3 failed on the server."""
    if op.state == "SUCCEEDED":
        return ExitCode.OK
    if not op.done or op.state == "CANCELLED" or op.error_code in _NO_RESULT_CODES:
        return ExitCode.NO_SOLUTION
    if op.error_code in _INPUT_CODES:
        return ExitCode.BAD_INPUT
    return ExitCode.SERVER


def watch(client: Client, name: str, timeout_s: float) -> Operation:
    """Follow ``name`` with a progress bar on stderr (a terminal's) until it is done or
    ``timeout_s`` passes; its last state."""
    last = None
    with progress_bar(name.rsplit("/", 1)[-1], 1.0) as bar:
        try:
            for op in client.watch(name, timeout_s):
                bar.update(op.progress, status=f"{op.state.lower()} {op.stage}".strip())
                last = op
        except DeadlineExceededError:  # timeout_s passed: report the state it is in
            last = None
    return last if last is not None and last.done else client.get_operation(name)


def follow_options(f: F) -> F:
    """``--wait``, ``--watch`` and ``--wait-s`` of an action that starts an operation."""
    f = click.option(
        "--wait-s",
        type=POSITIVE,
        default=600.0,
        help="How long --wait or --watch waits, s.",
    )(f)
    f = click.option(
        "--watch",
        "watch_",
        is_flag=True,
        help="Show the operation's progress on stderr until it is done, then print it.",
    )(f)
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait until the operation is done, then print it (exit codes as for "
        "`operations wait`).",
    )(f)


@dataclass(frozen=True)
class Follow:
    """The options of :func:`follow_options` (a base of the actions' option objects)."""

    wait: bool
    watch_: bool
    wait_s: float


def follow(client: Client, name: str, how: Follow) -> int:
    """Print the operation just started: as it is, or once done (``--wait``, ``--watch``);
    the exit code (:func:`operation_exit_code` when it was waited for)."""
    if how.watch_:
        op = watch(client, name, how.wait_s)
    elif how.wait:
        op = client.wait(name, how.wait_s)
    else:
        emit(client.get_operation(name))
        return ExitCode.OK
    emit(op)
    return operation_exit_code(op)
