"""``--executor local|ray`` and ``--ray-address``: where a command runs its independent
work, shared by the commands that distribute it (:mod:`zone_opt.distributed`).

    @click.command()
    @executor_options("Where scenarios are solved")
    @gathered(Args)                       # Args has fields executor: str, ray_address: str | None
    def command(args: Args) -> int:
        check_executor_options(args.executor, args.ray_address)   # before the slow work
        with executor_from_options(args.executor, args.ray_address, local_workers=2) as ex:
            ...

A bad combination is a usage error (exit code 2) naming the flag: ``--ray-address``
without ``--executor ray``, or an empty address. Only click is imported here; Ray is
imported when a Ray executor is made.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from zone_opt.distributed import Executor

__all__ = [
    "EXECUTOR_CHOICES",
    "check_executor_options",
    "executor_from_options",
    "executor_options",
]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: The values of ``--executor`` (:data:`zone_opt.distributed.BACKENDS`).
EXECUTOR_CHOICES = ("local", "ray")


def executor_options(where: str) -> Callable[[F], F]:
    """A decorator adding ``--executor`` (default ``local``) and ``--ray-address`` to a
    command; ``where`` starts the help of ``--executor`` ("Where coalitions are solved").
    The command receives ``executor: str`` and ``ray_address: str | None``."""

    def decorate(f: F) -> F:
        f = click.option(
            "--ray-address",
            metavar="ADDRESS",
            default=None,
            show_default="local, with --executor ray",
            help="Ray cluster to attach to (ray://HOST:10001 or HOST:6379), or `local` to "
            "start a private Ray in this process. Needs --executor ray.",
        )(f)
        return click.option(
            "--executor",
            type=click.Choice(EXECUTOR_CHOICES),
            default="local",
            show_default=True,
            help=f"{where}: threads here, or tasks on Ray (needs pip install "
            "'zone-opt[ray]'). Results are identical.",
        )(f)

    return decorate


def check_executor_options(executor: str, ray_address: str | None) -> None:
    """Refuse ``--ray-address`` without ``--executor ray``, and an empty address, as usage
    errors (exit code 2) naming the flag."""
    if executor not in EXECUTOR_CHOICES:
        raise click.UsageError(f"--executor must be one of {', '.join(EXECUTOR_CHOICES)}")
    if ray_address is None:
        return
    if executor != "ray":
        raise click.UsageError("--ray-address needs --executor ray")
    if not ray_address.strip():
        raise click.UsageError("--ray-address must not be empty (use `local` for a private Ray)")


@contextlib.contextmanager
def executor_from_options(
    executor: str, ray_address: str | None, *, local_workers: int = 2
) -> Iterator[Executor]:
    """The executor of ``--executor``/``--ray-address`` (``local_workers`` threads for
    ``local``), closed when the block ends. Make it on the main thread: Ray starts there."""
    from zone_opt.distributed import executor as make_executor

    check_executor_options(executor, ray_address)
    if executor == "ray":
        ex = make_executor("ray", address=ray_address)
        log.info("executor=ray workers=%d", ex.workers)
    else:
        ex = make_executor("local", workers=local_workers)
    try:
        yield ex
    finally:
        ex.close()
