"""``zone-opt dispatch`` from the command line: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from zone_opt.cli import main

DATA = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1"


def test_dispatch_writes_summary_series_and_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "dispatch",
            str(DATA / "lp.yaml"),
            "--start",
            "2025-07-14",
            "--hours",
            "72",
            "--rolling",
            "24",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("objective_cny", "status", "mip_gap", "build_s", "solve_s"):
        assert key in summary
    assert summary["status"] == "optimal"
    assert summary["windows"] == 3
    assert len(summary["window_reports"]) == 3
    printed = json.loads(capsys.readouterr().out)
    assert printed["objective_cny"] == pytest.approx(summary["objective_cny"])
    series = pd.read_parquet(out / "timeseries.parquet")
    assert len(series) == 72
    assert (out / "charts" / "report-electricity.png").stat().st_size > 10_000
    assert "vegaEmbed" in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "dispatch.xlsx").is_file()
    assert len(pd.read_csv(out / "dispatch-schedule.csv", encoding="utf-8-sig")) == 72


def test_dispatch_bad_scenario_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "lp.yaml").read_text().replace("profiles_8760.csv", "none.csv"))
    code = main(
        [
            "dispatch",
            str(bad),
            "--start",
            "2025-07-14",
            "--hours",
            "24",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert code == 2
