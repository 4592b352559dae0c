"""The generators of the docs' reference pages (``docs/gen``): every RPC and message of the
protos, every command of the CLI (click), and the mkdocs
hooks that add them and the format pages to the site."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest

from zone_opt.api.v1 import (
    carbon_pb2,
    datasets_pb2,
    dispatch_pb2,
    facilities_pb2,
    join_pb2,
    matching_pb2,
    operations_pb2,
)
from zone_opt.cli import cli

GEN = Path(__file__).resolve().parent.parent / "docs" / "gen"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_gen_{name}", GEN / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


proto_reference = _load("proto_reference")
cli_reference = _load("cli_reference")


def test_the_grpc_page_has_every_rpc_and_message_with_its_comment() -> None:
    page = proto_reference.render()
    for module in (
        carbon_pb2,
        datasets_pb2,
        dispatch_pb2,
        facilities_pb2,
        join_pb2,
        matching_pb2,
        operations_pb2,
    ):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert f"### `{service.name}`" in page
            for method in service.methods:
                assert f"| `{method.name}` |" in page, method.full_name
        for message in module.DESCRIPTOR.message_types_by_name.values():
            assert f"### `{message.name}` {{#{message.name.lower()}}}" in page
    # Comments come through: above a field, after an enum value, at the top of a file.
    assert "Idempotency key (AIP-155)." in page
    assert "| `MATCH_MODE_UNSPECIFIED` | 0 | optimal |" in page
    assert "Matching: vacant spaces to enterprises" in page
    assert "| `UploadDataset` | stream [`UploadDatasetRequest`]" in page


def _click_paths() -> set[tuple[str, ...]]:
    """Every visible command path of the CLI, walked through click (commands load lazily)."""
    found: set[tuple[str, ...]] = set()

    def walk(command: click.Command, ctx: click.Context, path: tuple[str, ...]) -> None:
        found.add(path)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, click.Context(sub, info_name=name, parent=ctx), (*path, name))

    walk(cli, click.Context(cli, info_name="zone-opt"), ())
    return found


def test_the_cli_page_has_every_command_and_its_help() -> None:
    commands = cli_reference.commands()
    assert {c.path for c in commands} == _click_paths()
    by_path = {c.path: c for c in commands}
    assert "--max-concurrent-calls" in by_path[("serve",)].help
    assert by_path[("client", "upload")].help.startswith("Usage: zone-opt client upload")
    page = cli_reference.render()
    assert "## `zone-opt serve` {#cmd-serve}" in page
    assert "### `zone-opt carbon allocate` {#cmd-carbon-allocate}" in page


def test_the_cli_generator_walks_a_click_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the page becomes once the CLI is a click group (no build_parser)."""
    (tmp_path / "fake_click_cli.py").write_text(
        textwrap.dedent(
            """
            import click

            @click.group(help="Optimisation engine.")
            def main() -> None: ...

            @main.group(help="carbon accounting of a park")
            def carbon() -> None: ...

            @carbon.command(help="allocate a park's emissions")
            @click.option("--meters", required=True, help="meters Parquet file")
            def allocate(meters: str) -> None: ...

            @main.command(hidden=True)
            def secret() -> None: ...
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    commands = cli_reference.commands("fake_click_cli")
    assert [c.path for c in commands] == [(), ("carbon",), ("carbon", "allocate")]
    allocate = commands[-1]
    assert allocate.help.startswith("Usage: zone-opt carbon allocate [OPTIONS]")
    assert "--meters TEXT" in allocate.help
    assert allocate.summary == "allocate a park's emissions"


def test_the_hooks_list_format_pages_without_nav_entries(tmp_path: Path) -> None:
    hooks = _load("hooks")
    docs = tmp_path / "docs"
    (docs / "formats").mkdir(parents=True)
    for name in ("index", "park-yaml", "dispatch-scenario"):
        (docs / "formats" / f"{name}.md").write_text(f"# {name.title()}\n")
    nav: list[dict[str, Any]] = [
        {"Home": "index.md"},
        {"Reference": [{"File formats": ["formats/index.md", "formats/park-yaml.md"]}]},
    ]
    hooks.on_config({"nav": nav, "docs_dir": str(docs)})
    assert nav[1]["Reference"][0]["File formats"] == [
        "formats/index.md",
        "formats/park-yaml.md",
        "formats/dispatch-scenario.md",
    ]
