"""Synthetic region generation: wall time and peak memory of the presets.

There is no peer generator; the case runs zone-opt alone and its summary (row counts of
every table, and whether the region validates) is the correctness check.
"""

from __future__ import annotations

from typing import Any

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.datasets import PRESETS, Region, preset_region


def _summarize(_instance: Any, region: Region) -> Summary:
    region.validate()
    rows: Summary = {name: table.num_rows for name, table in region.tables().items()}
    rows["valid"] = True
    return rows


@suite("datasets")
def datasets_suite(size: str) -> list[Case]:
    """synthetic_region presets: sample (smoke) and city (full), time and peak RSS."""
    preset = "sample" if size == "smoke" else "city"
    p = PRESETS[preset]
    return [
        Case(
            name=f"preset-{preset}",
            make=lambda: preset,
            contenders=[
                Contender(
                    "zone-opt synthetic_region",
                    run=preset_region,
                    summarize=_summarize,
                    ours=True,
                    timeout_s=120.0,
                )
            ],
            agree=agree_on("valid"),
            params={
                "n_parks": p.n_parks,
                "n_spaces": p.n_spaces,
                "n_enterprises": p.n_enterprises,
                "hours": p.hours,
                "seed": 0,
            },
        )
    ]
