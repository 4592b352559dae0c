"""``zone-opt recommend``: each enterprise's best spaces computed locally, as the library's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zone_opt.cli import main
from zone_opt.datasets import SAMPLE_DIR, read_region
from zone_opt.matching import MatchOptions, recommend

TODAY = "2026-01-15"


def test_recommend_from_a_region_directory_equals_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "recs.parquet"
    argv = ["recommend", "--dir", str(SAMPLE_DIR), "--k", "3", "--now", TODAY, "--out", str(out)]
    assert main(argv) == 0
    region = read_region(SAMPLE_DIR)
    options = MatchOptions(k=3, now=dt.date.fromisoformat(TODAY))
    expected = recommend(
        region.spaces,
        region.enterprises,
        parks=region.parks,
        tenancies=region.tenancies,
        options=options,
    )
    assert pq.read_table(out).equals(expected)
    assert f"{expected.num_rows} recommendations" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["recs.parquet"]  # no staging file left


def test_recommend_from_files_prints_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    files = [f"--{t}={SAMPLE_DIR / f'{t}.parquet'}" for t in ("spaces", "enterprises", "parks")]
    assert main(["recommend", *files, "--k", "1", "--now", TODAY]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows
    assert all(r["rank"] == 1 for r in rows)
    assert len({r["enterprise_id"] for r in rows}) == len(rows)
    assert {"space_id", "park_id", "score", "distance_km"} <= set(rows[0])
