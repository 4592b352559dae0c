"""``zone-opt client operations``: list, get, wait for, watch and cancel operations (and
the short spellings ``operation``, ``wait``, ``cancel``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from zone_opt.cli.client.common import Ordered, connected, emit, operation_exit_code, watch
from zone_opt.cli.params import POSITIVE

if TYPE_CHECKING:
    from zone_opt.client import Client

__all__ = ["COMMANDS"]

WAIT_S = click.option(
    "--timeout-s",
    "wait_s",
    type=POSITIVE,
    default=600.0,
    help="How long to wait, s; then the state it is in is printed.",
)


@click.group(
    cls=Ordered,
    invoke_without_command=True,
    short_help="List, get, wait for, watch or cancel operations.",
    help="Your operations: without an action, list them (one JSON line each).",
)
@click.pass_context
def operations(ctx: click.Context) -> int:
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_operations)
    return 0


@operations.command("list", help="List your operations, newest first.")
@connected
def list_operations(client: Client) -> int:
    for op in client.list_operations():
        emit(op)
    return 0


@operations.command("get", help="Print an operation's state (and result once done).")
@click.argument("name")
@connected
def get(client: Client, name: str) -> int:
    emit(client.get_operation(name))
    return 0


@operations.command(
    "wait",
    help="Wait until an operation is done and print it. Exit code 0 succeeded, 1 cancelled "
    "or not done in time, 2 failed on its input, 3 failed on the server.",
)
@click.argument("name")
@WAIT_S
@connected
def wait(client: Client, name: str, wait_s: float) -> int:
    op = client.wait(name, wait_s)
    emit(op)
    return operation_exit_code(op)


@operations.command(
    "watch",
    help="Show an operation's progress bar on stderr until it is done, then print it. "
    "Exit codes as for wait.",
)
@click.argument("name")
@WAIT_S
@connected
def watch_operation(client: Client, name: str, wait_s: float) -> int:
    op = watch(client, name, wait_s)
    emit(op)
    return operation_exit_code(op)


@operations.command("cancel", help="Ask the server to cancel an operation; prints it.")
@click.argument("name")
@connected
def cancel(client: Client, name: str) -> int:
    emit(client.cancel(name))
    return 0


def _alias(name: str, target: click.Command) -> click.Command:
    """``target`` under another name, in the ``client`` group (kept from 0.1)."""
    return click.Command(
        name,
        params=target.params,
        callback=target.callback,
        help=f"Same as `operations {target.name}`.",
    )


COMMANDS = (
    operations,
    _alias("operation", get),
    _alias("wait", wait),
    _alias("cancel", cancel),
)
