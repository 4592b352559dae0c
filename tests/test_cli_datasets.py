"""``zone-opt datasets`` and ``zone-opt demo`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zone_opt.cli import main
from zone_opt.datasets import TABLE_NAMES, read_region


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["datasets", "--help"],
        ["datasets", "generate", "--help"],
        ["datasets", "validate", "--help"],
        ["demo", "--help"],
    ],
)
def test_every_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert "Usage: zone-opt" in capsys.readouterr().out


def test_generate_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "region"
    code = main(["datasets", "generate", "--preset", "sample", "--out", str(out), "--hours", "2"])
    assert code == 0
    assert sorted(p.stem for p in out.glob("*.parquet")) == sorted(TABLE_NAMES)
    region = read_region(out)
    assert region.meters.num_rows == 2 * region.tenancies.num_rows
    assert main(["datasets", "validate", str(out)]) == 0
    assert "enterprises: 2000 rows, valid" in capsys.readouterr().out


def test_validate_reports_a_broken_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "region"
    assert main(["datasets", "generate", "--out", str(out), "--seed", "2", "--hours", "0"]) == 0
    parks = pq.read_table(out / "parks.parquet")
    pq.write_table(parks.slice(1), out / "parks.parquet")  # the first park disappears
    assert main(["datasets", "validate", str(out)]) == 2
    err = capsys.readouterr().err
    assert "spaces.park_id" in err
    assert "no such parks.park_id" in err
    (out / "meters.parquet").unlink()
    assert main(["datasets", "validate", str(out)]) == 2
    assert "meters.parquet does not exist" in capsys.readouterr().err


def test_demo_summarises_the_bundled_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    text = capsys.readouterr().out
    assert "parks: 6" in text
    assert "spaces: 1000" in text
    assert "enterprises: 2000" in text
    assert "C Manufacturing" in text
    assert "occupancy:" in text
    assert "metered:" in text


def test_demo_refuses_a_directory_without_a_region(tmp_path: Path) -> None:
    """A directory the user names is never replaced by the sample: exit code 2."""
    assert main(["demo", "--dir", str(tmp_path / "nonexistent")]) == 2


def test_demo_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zone_opt", "demo"], capture_output=True, text=True, check=True
    )
    assert "idle area" in done.stdout
