"""Single-source CFLP on the public sets with published optima, ours beside HiGHS alone.

Instances (``datasets/sscflp/``): Holmberg et al. 1999 (p1-p71), Yang et al. 2012 (p1-p20),
and the OR-Library single-source variants (cap61-cap134, capa/capb/capc at their four
capacities; data from ``datasets/orlib_cflp``). Each case runs, with the same time limit
(60 s at full size) and the machine's two cores each (``SSCFLP_THREADS``, default 2:
HiGHS's ``threads``; ours also runs its side search on the second core):

* ours: ``solve_facilities(backend="single_source")`` (Lagrangian bound, local search,
  penalty fixing, HiGHS on the reduced model; :mod:`zone_opt.optimise.facilities.sscflp`);
* the peer: HiGHS alone on the strong single-source MILP built by hand
  (:func:`bench.suites.facilities.hand_built_highs`, independent of zone-opt's builder).

Summaries carry the objective, the proven bound, the status, the gap to the published
optimum; the check fails if a bound lies above the published optimum or an "optimal" plan
is not at it, so a wrong proof cannot pass. ``python -m bench.suites.sscflp`` turns
``bench/results/sscflp-full.json`` into the results table (instance, optimum, ours at the
limit, certified gap, time to proof, HiGHS at the limit).

Full size runs every set (about 2 x 127 x 60 s worst case); ``SSCFLP_SETS`` (comma
separated from ``holmberg,yang,orlib``), ``SSCFLP_MATCH`` (a substring of the case name,
e.g. ``cap``) and ``SSCFLP_LIMIT_S`` narrow it (results are still written).
``SSCFLP_PEER=0`` leaves HiGHS alone out, for checks of ours alone (a regression sweep
after a change, or the 600 s proof runs, where the peer would double a long run); the
tables show "–" in its columns.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from bench.harness import Case, Contender, Summary, suite
from bench.suites.facilities import hand_built_highs
from zone_opt.optimise.facilities import FacilityProblem, read_orlib_cap, solve_facilities
from zone_opt.optimise.facilities.sscflp_files import (
    Layout,
    PublishedOptimum,
    read_sscflp,
    read_sscflp_optima,
)
from zone_opt.optimise.solver import SolveOptions

THREADS = int(os.environ.get("SSCFLP_THREADS", "2"))
PEER = os.environ.get("SSCFLP_PEER", "1") != "0"

ROOT = Path(__file__).resolve().parents[2] / "datasets"
DATA = ROOT / "sscflp"
ORLIB = ROOT / "orlib_cflp"
LAYOUT = {"holmberg": Layout.WRAPPED, "yang": Layout.ROWS}


def load(row: PublishedOptimum) -> FacilityProblem:
    """The instance of one ``optima.csv`` row."""
    if row.set_name == "orlib":
        return read_orlib_cap(
            ORLIB / f"{row.instance}.txt", capacity=row.capacity, single_source=True
        )
    return read_sscflp(DATA / f"{row.set_name}.tar.xz", LAYOUT[row.set_name], member=row.instance)


def label(row: PublishedOptimum) -> str:
    cap = "" if row.capacity is None else f"-{row.capacity:g}"
    return f"{row.set_name}-{row.instance}{cap}"


def _case(row: PublishedOptimum, limit_s: float) -> Case:
    known = row.optimum
    # Published optima carry 2 decimals (OR-Library set) or are integers.
    tol = 1e-6

    def ours(p: FacilityProblem) -> tuple[float, float, str]:
        plan = solve_facilities(
            p,
            backend="single_source",
            options=SolveOptions(mip_rel_gap=1e-6, time_limit_s=limit_s, threads=THREADS),
        )
        return plan.objective_cny, plan.bound_cny, str(plan.status)

    def peer(p: FacilityProblem) -> tuple[float, float, str]:
        return hand_built_highs(p, single_source=True, time_limit_s=limit_s, threads=THREADS)

    def summarize(_p: FacilityProblem, out: tuple[float, float, str]) -> Summary:
        obj, bound, status = out
        finite = math.isfinite(obj)
        return {
            "status": status,
            "objective": obj if finite else None,
            "bound": bound,
            "optimum": known,
            "over_optimum": (obj - known) / known if finite else None,
            "gap": (obj - bound) / obj if finite and obj else None,
            "bound_below_optimum": bool(bound <= known * (1 + tol)),
        }

    def agree(summaries: dict[str, Summary]) -> None:
        for name, s in summaries.items():
            if not s["bound_below_optimum"]:
                raise AssertionError(f"{name}: bound {s['bound']} above the optimum {known}")
            if s["objective"] is not None and s["objective"] < known * (1 - tol):
                raise AssertionError(f"{name}: plan {s['objective']} below the optimum {known}")
            if s["status"].lower() == "optimal" and (s["over_optimum"] or 0.0) > tol:
                raise AssertionError(f"{name}: 'optimal' at {s['objective']}, optimum {known}")

    wait = limit_s + 90
    contenders = [Contender("zone-opt single_source", ours, summarize, ours=True, timeout_s=wait)]
    if PEER:
        highs = Contender("HiGHS alone (hand-built MILP)", peer, summarize, timeout_s=wait)
        contenders.append(highs)
    return Case(
        name=label(row),
        make=lambda: load(row),
        contenders=contenders,
        agree=agree,
        params={
            "optimum": known,
            "time_limit_s": limit_s,
            "sites": row.sites,
            "customers": row.customers,
            "threads": THREADS,
        },
    )


@suite("sscflp")
def sscflp_suite(size: str) -> list[Case]:
    """Single-source CFLP: Holmberg, Yang, OR-Library variants vs HiGHS alone."""
    rows = read_sscflp_optima(DATA / "optima.csv")
    if size == "smoke":
        pick = {("holmberg", "p1"), ("holmberg", "p2"), ("orlib", "cap61")}
        return [_case(r, 20.0) for r in rows if (r.set_name, r.instance) in pick]
    sets = os.environ.get("SSCFLP_SETS", "holmberg,yang,orlib").split(",")
    limit_s = float(os.environ.get("SSCFLP_LIMIT_S", "60"))
    match = os.environ.get("SSCFLP_MATCH", "")
    return [_case(r, limit_s) for r in rows if r.set_name in sets and match in label(r)]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.3f} %"


def results_table(report: dict[str, Any]) -> str:
    """Markdown: instance, optimum, ours at the limit (over the optimum), certified gap, wall
    time (the time to proof when proven), HiGHS at the limit and its gap."""
    lines = [
        "| instance | optimum | ours | ours over opt | ours certified gap | ours status"
        " | ours wall s | HiGHS | HiGHS over opt | HiGHS gap | HiGHS status | HiGHS wall s |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for case in report["cases"]:
        by = {r["ours"]: r for r in case["results"]}
        cells = [case["case"], f"{case['params']['optimum']:.10g}"]
        for ours in (True, False):
            r = by.get(ours)
            s = r["summary"] if r and r["status"] == "ok" else {}
            wall = "–" if r is None or r["seconds"] is None else f"{r['seconds']:.1f}"
            if r is not None and r["status"] == "timeout":
                wall = f">{r['seconds']:.0f}"
            obj = s.get("objective")
            cells += [
                "–" if obj is None else f"{obj:.10g}",
                _pct(s.get("over_optimum")),
                _pct(s.get("gap")),
                s.get("status", r["status"] if r else "–"),
                wall,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *summary_lines(report)]
    return "\n".join(lines) + "\n"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Per set and contender: instances, proven optimal, within 0.5 % / 1 % of the optimum,
    the worst distance to the optimum and the largest certified gap."""
    stats: dict[tuple[str, bool], list[Summary]] = {}
    for case in report["cases"]:
        set_name = case["case"].split("-")[0]
        for r in case["results"]:
            s = r["summary"] if r["status"] == "ok" else {}
            stats.setdefault((set_name, r["ours"]), []).append(s)
    out = [
        "| set | contender | instances | proven | within 0.5 % | within 1 % | worst over opt"
        " | largest gap |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (set_name, ours), rows in stats.items():
        over = [s["over_optimum"] for s in rows if s.get("over_optimum") is not None]
        gaps = [s["gap"] for s in rows if s.get("gap") is not None]
        proven = sum(str(s.get("status", "")).lower() == "optimal" for s in rows)
        out.append(
            f"| {set_name} | {'ours' if ours else 'HiGHS alone'} | {len(rows)} | {proven}"
            f" | {sum(o <= 0.005 for o in over)} | {sum(o <= 0.01 for o in over)}"
            f" | {_pct(max(over) if len(over) == len(rows) else None)}"
            f" | {_pct(max(gaps) if len(gaps) == len(rows) else None)} |"
        )
    return out


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/results/sscflp-full.json")
    print(results_table(json.loads(path.read_text())))
