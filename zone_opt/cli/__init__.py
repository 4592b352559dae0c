"""The ``zone-opt`` command line (click).

Each command (or command group) lives in its own module of this package as a
:class:`click.Command` attribute; :data:`COMMANDS` registers it, and the module is imported
only when its command is used or listed. Modules import click and the standard library at
the top and their libraries (pyarrow, pandas, the solvers, grpc) inside the command, so
``zone-opt --help`` stays fast.

:func:`main` is the entry point (``[project.scripts]``, ``python -m zone_opt`` and the
tests): it runs the command and turns every exception into a message and an exit code
(:mod:`zone_opt.cli.exits`).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click

from zone_opt.cli.exits import EPILOG, ExitCode, interrupted, report

__all__ = ["COMMANDS", "cli", "main"]

#: Command name -> ``module:attribute`` in this package, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "datasets": "datasets:command",
    "demo": "demo:command",
    "match": "match:command",
    "recommend": "recommend:command",
    "dispatch": "dispatch:command",
    "join": "join:command",
    "carbon": "carbon:command",
    "facilities": "facilities:command",
    "plan": "facilities:plan",
    "serve": "serve:command",
    "client": "client:command",
}

#: Settings every command shares: ``-h``, defaults shown in help, a readable width.
CONTEXT_SETTINGS = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
}


@dataclass
class RunState:
    """What :func:`main` needs to know about the run after a command failed."""

    debug: bool = False


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        found = getattr(importlib.import_module(f"zone_opt.cli.{module}"), attribute)
        assert isinstance(found, click.Command)
        return found


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib import metadata

    import zone_opt

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    click.echo(f"zone-opt {zone_opt.__version__}")
    click.echo(f"core: zone_opt._core {zone_opt.__version__} ({zone_opt.build_profile} build)")
    click.echo(f"python: {platform.python_version()} ({platform.platform()})")
    click.echo(
        "libraries: "
        + ", ".join(
            f"{name} {installed(name)}" for name in ("numpy", "pyarrow", "highspy", "grpcio")
        )
    )
    ctx.exit(0)


@click.group(
    cls=LazyGroup,
    context_settings=CONTEXT_SETTINGS,
    epilog=EPILOG,
    help="Optimisation engine for industrial parks and development zones: space matching, "
    "private joins, carbon accounting, shared facilities and energy dispatch.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Print the version of zone-opt, its Rust core and its main libraries, and exit.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    show_default="ZONE_OPT_LOG_LEVEL, else INFO",
    help="Logging level (logs go to stderr).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None, debug: bool) -> None:
    state = ctx.find_object(RunState)
    if state is not None:
        state.debug = debug
    from zone_opt.config import settings

    try:  # a ZONE_OPT_* variable that does not parse is the user's to fix
        logging.basicConfig(
            level=(log_level or settings().log_level).upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    except ValueError as exc:
        raise click.UsageError(f"environment: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zone-opt`` with ``argv`` (default: the process's arguments); the exit code.

    Never raises for a user's mistake: see :class:`zone_opt.cli.exits.ExitCode`.
    """
    state = RunState(debug="--debug" in (sys.argv[1:] if argv is None else argv))
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="zone-opt", standalone_mode=False, obj=state)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return interrupted()
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:
        return report(exc, debug=state.debug)
    return int(result) if isinstance(result, int) else ExitCode.OK
