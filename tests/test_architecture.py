"""The layering is enforced by a tool, not by memory: import-linter's contracts
(``[tool.importlinter]`` in pyproject.toml, run by ``make lint``) hold on the tree, and
fail on a copy of it with one forbidden import added; only the engine wrappers import the
compiled core (grimp cannot see an extension module, so that rule is checked here)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
#: Packages allowed to import ``zone_opt._core`` (the engine wrappers and their helpers).
CORE_IMPORTERS = ("matching", "carbon", "join", "datasets", "validation", "__init__.py")
#: Single modules outside those packages that wrap an engine for their layer.
CORE_WRAPPERS = ("optimise/facilities/plan_search.py",)


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's Python sources and pyproject.toml, copied (no build outputs)."""
    tree = tmp_path_factory.mktemp("arch")
    shutil.copytree(
        ROOT / "zone_opt", tree / "zone_opt", ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_contracts_hold_on_the_tree(copy: Path) -> None:
    result = _lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("service/storage/datasets.py", "zone_opt.service.operations", "service layers"),
        ("service/transport/auth.py", "zone_opt.service.storage.jobstore", "transport is below"),
        ("rpc/enums.py", "zone_opt.client", "wire layer"),
        ("client/core.py", "zone_opt.service.server", "client sits below"),
        ("optimise/solver.py", "grpc", "MILP layer"),
        ("cli/join.py", "zone_opt.privacy", "deprecated zone_opt.privacy"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    copy: Path, tmp_path: Path, module: str, forbidden: str, contract: str
) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(copy, tree)
    path = tree / "zone_opt" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\nimport {forbidden}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout


def test_only_the_engine_wrappers_import_the_compiled_core() -> None:
    offenders = []
    for path in sorted((ROOT / "zone_opt").rglob("*.py")):
        rel = path.relative_to(ROOT / "zone_opt")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            core = any(n == "zone_opt._core" or n.startswith("zone_opt._core.") for n in names)
            if core and rel.parts[0] not in CORE_IMPORTERS and rel.as_posix() not in CORE_WRAPPERS:
                offenders.append(str(rel))
    assert offenders == []


def test_no_hand_written_module_is_over_600_lines() -> None:
    """One module, one concern: a module past 600 lines is split (generated code aside)."""
    sources = [
        *(ROOT / "zone_opt").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "bench").rglob("*.py"),
        *(ROOT / "core_rs").rglob("*.rs"),
    ]
    generated = ROOT / "zone_opt" / "api"
    long = {
        str(path.relative_to(ROOT)): n
        for path in sources
        if generated not in path.parents and "target" not in path.parts
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
