"""``zone-opt match``: match enterprises to idle spaces from Parquet tables.

Reads the tables, runs :func:`zone_opt.matching.match` with a progress bar over its
stages, writes ``assignments.parquet`` and ``unmatched.parquet`` to ``--out`` and prints a
summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from zone_opt.cli.io import read_parquet
from zone_opt.matching import MatchOptions, match

STAGES = ("read", "candidates", "solve", "results", "write")


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "match", help="match enterprises to idle spaces (optimal or stable)"
    )
    p.add_argument("--spaces", type=Path, required=True, help="spaces Parquet file")
    p.add_argument("--enterprises", type=Path, required=True, help="enterprises Parquet file")
    p.add_argument("--parks", type=Path, required=True, help="parks Parquet file")
    p.add_argument("--tenancies", type=Path, default=None, help="tenancies Parquet file")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--mode", choices=("optimal", "stable"), default="optimal")
    p.add_argument("--k", type=int, default=32, help="candidates per enterprise (default 32)")
    p.add_argument("--now", type=dt.date.fromisoformat, default=None, help="date, YYYY-MM-DD")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with tqdm(total=len(STAGES), desc="match", disable=args.no_progress, unit="stage") as bar:

        def stage(name: str) -> None:
            bar.set_postfix_str(name)
            if name != "read":
                bar.update(1)

        stage("read")
        spaces = read_parquet(args.spaces, "--spaces")
        enterprises = read_parquet(args.enterprises, "--enterprises")
        parks = read_parquet(args.parks, "--parks")
        tenancies = None if args.tenancies is None else read_parquet(args.tenancies, "--tenancies")
        result = match(
            spaces,
            enterprises,
            parks=parks,
            tenancies=tenancies,
            options=MatchOptions(mode=args.mode, k=args.k, now=args.now),
            progress=stage,
        )
        stage("write")
        args.out.mkdir(parents=True, exist_ok=True)
        pq.write_table(result.assignments, args.out / "assignments.parquet")
        pq.write_table(result.unmatched, args.out / "unmatched.parquet")
        summary = asdict(result.summary)
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
        bar.update(1)
    s = result.summary
    reasons = result.unmatched.group_by("constraint").aggregate([("enterprise_id", "count")])
    print(
        f"{s.mode}: {s.n_matched} of {s.n_seekers} enterprises matched to "
        f"{s.n_spaces_offered} offered spaces ({s.n_edges} candidate pairs), "
        f"total score {s.total_score}"
    )
    print(f"unmatched: {s.n_no_candidates} without candidates, {s.n_outcompeted} outcompeted")
    for row in sorted(reasons.to_pylist(), key=lambda r: -int(r["enterprise_id_count"])):
        if row["constraint"] is not None:
            print(f"  {row['constraint']}: {row['enterprise_id_count']}")
    print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in s.seconds.items()))
    print(f"wrote {args.out / 'assignments.parquet'} and {args.out / 'unmatched.parquet'}")
    return 0
