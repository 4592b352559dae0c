"""``zone-opt --help`` and every command's help: complete, plain text, fast to import."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from zone_opt.cli import COMMANDS, cli, main
from zone_opt.cli.client.common import KINDS
from zone_opt.cli.datasets import PRESET_NAMES
from zone_opt.cli.exits import ExitCode
from zone_opt.cli.join import MODES
from zone_opt.datasets import PRESET_ALIASES, PRESETS
from zone_opt.join.policy import MODES as POLICY_MODES
from zone_opt.rpc.enums import TABLE_KINDS

ROOT = Path(__file__).resolve().parents[1]

#: Libraries no command may import before it runs (each costs 0.1-0.5 s).
HEAVY = ("matplotlib", "pandas", "pyomo", "ortools", "highspy", "pyarrow", "grpc", "numpy")


def _commands(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        found = cmd.get_command(click.Context(cmd), name)
        assert found is not None
        cmd = found
    return cmd


ALL = sorted(_commands(cli))


def test_the_tree_holds_every_command() -> None:
    top = {path[0] for path in ALL if path}
    assert top == set(COMMANDS)
    for expected in [("recommend",), ("facilities",), ("plan", "facilities"), ("client", "carbon"),
                     ("client", "dispatch"), ("client", "operations", "watch")]:  # fmt: skip
        assert expected in ALL


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "zone-opt")
def test_every_command_and_option_has_help(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    cmd = _command(path)
    assert cmd.help, f"{path}: no help"
    for param in cmd.params:
        if not isinstance(param, click.Option):
            continue
        assert param.help, f"{path} {param.opts}: no help"
        if param.required or param.is_flag or param.name == "help":
            continue
        shown = param.default is not None or isinstance(param.show_default, str)
        assert shown, f"{path} {param.opts}: default None and no text for it"
    assert main([*path, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Usage: zone-opt {' '.join(path)}".rstrip())
    for markup in ("``", ":func:", ":class:", ":mod:", "::", ".. ", "default: None", "noqa"):
        assert markup not in text, f"{path}: {markup!r} in help"


def test_help_documents_exit_codes_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for code in ExitCode:
        assert f"  {code.value} " in text
    assert "_ZONE_OPT_COMPLETE=bash_source zone-opt" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert f"| {code.value} |" in readme
    assert "_ZONE_OPT_COMPLETE" in readme


def test_units_in_option_help() -> None:
    for path, option, unit in [
        (("dispatch",), "hours", "h."),
        (("dispatch",), "time_limit", "s."),
        (("client",), "timeout_s", "s."),
        (("join",), "timeout_s", "s."),
        (("client", "dispatch"), "hours", "h."),
        (("client", "operations", "wait"), "wait_s", "s"),
    ]:
        (param,) = [p for p in _command(path).params if p.name == option]
        assert isinstance(param, click.Option)
        assert param.help is not None
        assert unit in param.help, (path, option)


def test_preset_names_spelled_in_the_cli_match_the_library() -> None:
    # the current names and the old ones that still work (with a DeprecationWarning)
    assert set(PRESET_NAMES) == set(PRESETS) | set(PRESET_ALIASES)


def test_choices_spelled_in_the_cli_match_the_library() -> None:
    assert set(KINDS) == set(TABLE_KINDS)
    assert MODES == POLICY_MODES


def test_version_names_the_core(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("zone-opt ")
    assert "core: zone_opt._core" in text
    assert "pyarrow" in text


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )


def test_loading_every_command_imports_no_heavy_library() -> None:
    """`zone-opt --help` (and completion) load every command module: none may import a
    library its command uses; each command imports its own when it runs."""
    done = _fresh_python(
        "import sys\n"
        "from zone_opt.cli import main\n"
        "assert main(['--help']) == 0\n"
        "assert main(['client', '--help']) == 0\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    assert done.stdout.splitlines()[-1] == "[]"


def test_importing_the_cli_imports_none_of_them() -> None:
    done = _fresh_python(
        "import sys, zone_opt.cli\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    assert done.stdout.strip() == "[]"


def test_help_is_fast() -> None:
    """The 0.3 s target of `zone-opt --help` on a quiet machine, with room for a loaded one
    (the suite shares its cores): interpreter start included."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "zone_opt", "--help"], capture_output=True, env=env, check=True
        )
        best = min(best, time.perf_counter() - t0)
    assert best < 1.0


def test_shell_completion_completes_commands() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "_ZONE_OPT_COMPLETE": "bash_complete",
        "COMP_WORDS": "zone-opt client op",
        "COMP_CWORD": "2",
    }
    done = subprocess.run(
        [sys.executable, "-m", "zone_opt"], capture_output=True, text=True, env=env, check=True
    )
    assert "plain,operations" in done.stdout.splitlines()
