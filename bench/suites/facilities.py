"""Shared facilities: OR-Library CFLP optima, capa/b/c, and 10-park cost allocation.

Peer: highspy on a constraint matrix built by hand in this file (y binary, x in [0, 1] or
binary, strong linking x_ij <= y_i, the model of ``shared/reference/facilities.md`` §2),
independent of zone-opt's builder. Every optimum is checked against OR-Library's capopt
(splittable, 1e-9 relative) or Guastaroba & Speranza (single source, 1e-6), so a fast wrong
answer fails the suite.

Cases (full): all 37 cap41..cap134 splittable, the 24 single-source ones, capa/capb/capc
at each of their 4 capacities (ours: the decomposition backend, 60 s limit; the peer only
on capa-8000, the instance the reference note could not prove), and the Shapley split of
cap123 among 10 parks (1,023 coalitions) against one fresh hand-built MILP per coalition.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from bench.harness import Case, Contender, Summary, suite
from zone_opt.optimise.facilities import (
    FacilityProblem,
    read_orlib_cap,
    read_orlib_optima,
    solve_facilities,
)
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.sharing import cost_shares
from zone_opt.optimise.solver import SolveOptions

DATA = Path(__file__).resolve().parents[2] / "datasets" / "orlib_cflp"
SMALL = [
    f"cap{g}{k}"
    for g, ks in (
        (4, "1234"),
        (5, "1"),
        (6, "1234"),
        (7, "1234"),
        (8, "1234"),
        (9, "1234"),
        (10, "1234"),
        (11, "1234"),
        (12, "1234"),
        (13, "1234"),
    )
    for k in ks
]
LARGE = {
    "capa": (8000.0, 10000.0, 12000.0, 14000.0),
    "capb": (5000.0, 6000.0, 7000.0, 8000.0),
    "capc": (5000.0, 5750.0, 6500.0, 7250.0),
}


def _single_source_optima() -> dict[str, float]:
    with (DATA / "sscflp_opt_guastaroba_speranza.csv").open() as f:
        return {row["instance"]: float(row["opt_single_source"]) for row in csv.DictReader(f)}


def hand_built_highs(
    problem: FacilityProblem,
    *,
    single_source: bool,
    members: np.ndarray | None = None,
    time_limit_s: float | None = None,
    presolve_workaround: bool = False,
    threads: int = 1,
) -> tuple[float, float, str]:
    """The peer: one-type CFLP as a hand-built CSC matrix passed to highspy.

    Columns y_0..y_{m-1}, then x_ij (j major). Rows: demand (n, = 1), capacity (m,
    sum d_j x_ij - s_i y_i <= 0), linking (n m, x_ij - y_i <= 0). ``members`` keeps only some
    customers. HiGHS's default options, with the reference note's 1e-6 gap and one thread;
    ``presolve_workaround`` switches presolve rule 13 off (see
    ``zone_opt.optimise.facilities.options.PRESOLVE_RULE_OFF``), which only the coalition
    models need: with it on, highspy 1.14 returns coalition costs of cap123 up to 31 % off.
    Returns (objective, bound, status).
    """
    d = problem.demand[:, 0]
    keep = np.ones(d.shape[0], dtype=bool) if members is None else members
    d = d[keep]
    cost = (problem.transport_cost_cny_per_unit[keep] * d[:, None]).ravel()  # (n*m,) j major
    s = problem.capacity[:, 0]
    f = np.asarray(problem.fixed_cost_cny)
    n, m = d.shape[0], s.shape[0]
    n_x = n * m
    jj = np.repeat(np.arange(n), m)
    ii = np.tile(np.arange(m), n)
    # Column-wise: each x has 3 entries (demand row j, capacity row n+i, link row n+m+k).
    x_rows = np.stack([jj, n + ii, n + m + np.arange(n_x)], axis=1).ravel()
    x_vals = np.stack([np.ones(n_x), d[jj], np.ones(n_x)], axis=1).ravel()
    # Each y has its capacity row and its n linking rows.
    y_index: list[np.ndarray] = []
    y_value: list[np.ndarray] = []
    for i in range(m):
        links = n + m + np.arange(n) * m + i
        y_index.append(np.concatenate([[n + i], links]))
        y_value.append(np.concatenate([[-s[i]], -np.ones(n)]))
    index = np.concatenate([*y_index, x_rows]).astype(np.int32)
    value = np.concatenate([*y_value, x_vals])
    starts = np.concatenate([np.arange(m) * (n + 1), m * (n + 1) + 3 * np.arange(n_x + 1)]).astype(
        np.int32
    )
    lp = highspy.HighsLp()
    lp.num_col_ = m + n_x
    lp.num_row_ = n + m + n_x
    lp.col_cost_ = np.concatenate([f, cost])
    lp.col_lower_ = np.zeros(m + n_x)
    lp.col_upper_ = np.ones(m + n_x)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(m + n_x, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(m + n_x)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    kind = highspy.HighsVarType.kInteger
    cont = highspy.HighsVarType.kContinuous
    lp.integrality_ = [kind] * m + [kind if single_source else cont] * n_x
    h = highspy.Highs()
    h.silent()
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("threads", threads)
    if presolve_workaround:
        h.setOptionValue("presolve_rule_off", 1 << 13)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    h.run()
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    obj = float(info.objective_function_value) if info.primal_solution_status == 2 else math.inf
    return obj, float(info.mip_dual_bound), status


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-9)


# --- OR-Library small instances --------------------------------------------------------


def _small_case(names: list[str], single_source: bool) -> Case:
    split_opt = read_orlib_optima(DATA / "capopt.txt")
    ss_opt = _single_source_optima()
    known = {n: (ss_opt[n] if single_source else split_opt[(n, None)]) for n in names}
    tol = 1e-6 if single_source else 1e-9

    def make() -> list[tuple[str, FacilityProblem]]:
        return [(n, read_orlib_cap(DATA / f"{n}.txt", single_source=single_source)) for n in names]

    def ours(inst: list[tuple[str, FacilityProblem]]) -> list[float]:
        return [solve_facilities(p).objective_cny for _, p in inst]

    def peer(inst: list[tuple[str, FacilityProblem]]) -> list[float]:
        return [hand_built_highs(p, single_source=single_source)[0] for _, p in inst]

    def summarize(inst: list[tuple[str, FacilityProblem]], out: list[float]) -> Summary:
        diffs = [_rel(v, known[n]) for (n, _), v in zip(inst, out, strict=True)]
        return {
            "matched": sum(d <= tol for d in diffs),
            "of": len(diffs),
            "max_rel_diff": max(diffs),
        }

    def agree(summaries: dict[str, Summary]) -> None:
        for name, s in summaries.items():
            if s["matched"] != s["of"]:
                raise AssertionError(f"{name}: {s['matched']} of {s['of']} optima matched")

    variant = "single-source" if single_source else "split"
    return Case(
        name=f"orlib-{variant}-{len(names)}",
        make=make,
        contenders=[
            Contender("zone-opt solve_facilities", ours, summarize, ours=True),
            Contender("highspy hand-built matrix", peer, summarize),
        ],
        agree=agree,
        params={"instances": names, "tolerance": tol, "mip_rel_gap": 1e-6},
    )


# --- capa / capb / capc -----------------------------------------------------------------


def _large_case(name: str, capacity: float, with_peer: bool, limit_s: float) -> Case:
    known = read_orlib_optima(DATA / "capopt.txt")[(name, capacity)]

    def make() -> FacilityProblem:
        return read_orlib_cap(DATA / f"{name}.txt", capacity=capacity)

    def ours(p: FacilityProblem) -> tuple[float, float, str]:
        plan = solve_facilities(
            p,
            backend="decompose",
            options=SolveOptions(mip_rel_gap=1e-6, time_limit_s=limit_s, threads=1),
        )
        return plan.objective_cny, plan.bound_cny, str(plan.status)

    def peer(p: FacilityProblem) -> tuple[float, float, str]:
        return hand_built_highs(p, single_source=False, time_limit_s=limit_s)

    def summarize(_p: FacilityProblem, out: tuple[float, float, str]) -> Summary:
        obj, bound, status = out
        return {
            "status": status,
            "objective_rel_diff": _rel(obj, known) if math.isfinite(obj) else None,
            "gap": (obj - bound) / obj if math.isfinite(obj) and obj else None,
            "bound_below_known": bool(bound <= known * (1 + 1e-9)),
        }

    def agree(summaries: dict[str, Summary]) -> None:
        for cname, s in summaries.items():
            if not s["bound_below_known"]:
                raise AssertionError(f"{cname}: bound above the published optimum")
            if s["status"].lower() == "optimal" and (s["objective_rel_diff"] or 0) > 1e-9:
                raise AssertionError(f"{cname}: 'optimal' but {s['objective_rel_diff']:.2e} off")

    contenders = [
        Contender("zone-opt decompose", ours, summarize, ours=True, timeout_s=limit_s + 60)
    ]
    if with_peer:
        contenders.append(
            Contender("highspy hand-built matrix", peer, summarize, timeout_s=limit_s + 60)
        )
    return Case(
        name=f"{name}-{capacity:g}",
        make=make,
        contenders=contenders,
        agree=agree,
        params={"known_optimum": known, "time_limit_s": limit_s},
    )


# --- cost allocation --------------------------------------------------------------------


def _game_instance(
    name: str, parks: int, customers: int | None
) -> tuple[FacilityProblem, dict[str, str]]:
    p = read_orlib_cap(DATA / f"{name}.txt")
    if customers is not None:
        p = p.restrict(list(range(customers)))
    n = p.num_demand
    players = {d: f"park{j * parks // n + 1:02d}" for j, d in enumerate(p.demand_ids)}
    return p, players


def _shapley_from_values(values: dict[int, float], p: int) -> list[float]:
    fact = [math.factorial(k) for k in range(p + 1)]
    out = [0.0] * p
    for mask in range(1 << p):
        size = mask.bit_count()
        for k in range(p):
            if not mask >> k & 1:
                w = fact[size] * fact[p - size - 1] / fact[p]
                out[k] += w * (values[mask | 1 << k] - values[mask])
    return out


def _allocation_case(name: str, parks: int, customers: int | None) -> Case:
    def ours(inst: tuple[FacilityProblem, dict[str, str]]) -> dict[str, Any]:
        problem, players = inst
        cc = CoalitionCosts(problem, players, workers=2)
        shapley = cost_shares(problem, players, "shapley", costs=cc)
        least = cost_shares(problem, players, "least_core", costs=cc)
        return {
            "shapley": [s.share_cny for s in shapley.shares],
            "epsilon": least.least_core_epsilon_cny,
            "solves": cc.solves,
        }

    def peer(inst: tuple[FacilityProblem, dict[str, str]]) -> dict[str, Any]:
        problem, players = inst
        names = sorted(set(players.values()))
        owner = np.array([names.index(players[d]) for d in problem.demand_ids])
        values = {0: 0.0}
        for mask in range(1, 1 << len(names)):
            members = np.array([(mask >> k) & 1 for k in range(len(names))], dtype=bool)[owner]
            values[mask] = hand_built_highs(
                problem, single_source=False, members=members, presolve_workaround=True
            )[0]
        return {"shapley": _shapley_from_values(values, len(names)), "solves": len(values) - 1}

    def summarize(_inst: Any, out: dict[str, Any]) -> Summary:
        summary: Summary = {"shapley": [round(v, 3) for v in out["shapley"]]}
        summary["coalitions"] = out["solves"]
        if out.get("epsilon") is not None:
            summary["least_core_epsilon"] = round(out["epsilon"], 3)
        return summary

    def agree(summaries: dict[str, Summary]) -> None:
        pairs = list(summaries.items())
        for (a, sa), (b, sb) in itertools.combinations(pairs, 2):
            for x, y in zip(sa["shapley"], sb["shapley"], strict=True):
                if abs(x - y) > 1e-5 * max(1.0, abs(y)) + 1e-3:
                    raise AssertionError(
                        f"Shapley differs: {a} {sa['shapley']} vs {b} {sb['shapley']}"
                    )

    return Case(
        name=f"allocation-{name}-{parks}-parks",
        make=lambda: _game_instance(name, parks, customers),
        contenders=[
            Contender("zone-opt cost_shares (shapley + least core)", ours, summarize, ours=True),
            Contender("highspy hand-built, one MILP per coalition", peer, summarize, timeout_s=600),
        ],
        agree=agree,
        params={"instance": name, "parks": parks, "coalitions": (1 << parks) - 1, "workers": 2},
    )


@suite("facilities")
def facilities_suite(size: str) -> list[Case]:
    """OR-Library optima vs hand-built highspy, capa/b/c, 10-park cost allocation."""
    if size == "smoke":
        return [
            _small_case(["cap41", "cap61"], single_source=False),
            _small_case(["cap61"], single_source=True),
            _allocation_case("cap61", 3, 12),
        ]
    ss = sorted(_single_source_optima(), key=SMALL.index)
    cases: list[Case] = [
        _small_case(SMALL, single_source=False),
        _small_case(ss, single_source=True),
        _allocation_case("cap123", 10, None),
    ]
    for name, caps in LARGE.items():
        for cap in caps:
            cases.append(
                _large_case(name, cap, with_peer=(name, cap) == ("capa", 8000.0), limit_s=60.0)
            )
    return cases
