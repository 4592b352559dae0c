"""The command-line reference (``reference/cli.md``), generated from the CLI itself.

Walks the command tree ``zone_opt.cli`` exposes and includes each command's ``--help``
exactly as the command prints it, formatted in process (the text ``--help`` prints, at a
fixed width of 100 columns so that the page does not depend on the terminal):

- **argparse** (today): ``zone_opt.cli.build_parser()``; subcommands are the choices of
  its ``_SubParsersAction``s; the help is ``parser.format_help()``.
- **click**: the first ``click.Command`` among ``zone_opt.cli``'s ``cli``, ``main`` and
  ``app``; subcommands are a ``click.Group``'s ``list_commands(ctx)`` (hidden ones left
  out); the help is ``command.get_help(ctx)`` in a context chain named like the command
  line.

Run at every docs build by ``docs/gen/hooks.py``; ``python docs/gen/cli_reference.py``
prints the page.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click  # mkdocs depends on it, so the docs build always has it

WIDTH = 100


@dataclass(frozen=True)
class Command:
    """One command of the tree: its words after the program name, summary and ``--help``."""

    path: tuple[str, ...]
    summary: str
    help: str


@contextmanager
def _columns(width: int) -> Iterator[None]:
    """argparse reads the width from ``COLUMNS`` (through ``shutil.get_terminal_size``)."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


def _argparse_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = (), summary: str = ""
) -> Iterator[Command]:
    yield Command(path, summary or (parser.description or ""), parser.format_help())
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield from _argparse_commands(sub, (*path, name), summaries.get(name, ""))


def _click_commands(command: click.Command, program: str) -> Iterator[Command]:
    def walk(cmd: click.Command, ctx: click.Context, path: tuple[str, ...]) -> Iterator[Command]:
        yield Command(path, cmd.get_short_help_str(limit=WIDTH), cmd.get_help(ctx))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is None or sub.hidden:
                    continue
                child = click.Context(sub, info_name=name, parent=ctx, terminal_width=WIDTH)
                yield from walk(sub, child, (*path, name))

    root = click.Context(command, info_name=program, terminal_width=WIDTH)
    yield from walk(command, root, ())


def commands(module_name: str = "zone_opt.cli", program: str = "zone-opt") -> list[Command]:
    """Every command of the CLI in ``module_name``, the root first, depth first."""
    cli = importlib.import_module(module_name)
    build = getattr(cli, "build_parser", None)
    if callable(build):
        parser = build()
        if isinstance(parser, argparse.ArgumentParser):
            with _columns(WIDTH):
                return list(_argparse_commands(parser))
    for name in ("cli", "main", "app"):
        candidate = getattr(cli, name, None)
        if isinstance(candidate, click.Command):
            return list(_click_commands(candidate, program))
    raise RuntimeError(f"{module_name} exposes neither build_parser() nor a click command")


def render(program: str = "zone-opt") -> str:
    """The Markdown page: an index of the commands, then each one's ``--help``."""
    found = commands(program=program)
    lines = [
        "# Command-line reference (`zone-opt`)\n",
        "Every command's `--help`, generated from the command line itself at every docs "
        "build (`docs/gen/cli_reference.py`). `python -m zone_opt` is the same program.\n",
        "| command | what it does |",
        "|---|---|",
    ]
    for c in found[1:]:
        name = " ".join((program, *c.path))
        anchor = "-".join(("cmd", *c.path))
        lines.append(f"| [`{name}`](#{anchor}) | {c.summary.replace('|', '/')} |")
    lines.append("")
    for c in found:
        name = " ".join((program, *c.path))
        anchor = "-".join(("cmd", *c.path)) if c.path else "cmd-zone-opt"
        level = "#" * min(2 + len(c.path) - 1 if c.path else 2, 4)
        lines += [f"{level} `{name}` {{#{anchor}}}\n", "```text", c.help.rstrip(), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
