"""Dense assignment against every solver of ``lapx`` (the maintained successor of ``lap``,
installing the same ``lap`` module), and scipy: integer and float, square and rectangular.

Every contender minimises the same matrix. Exact solvers must reach the same optimum
(integers: equal; floats: within 1e-9 relative). ``lap.lapjvs`` solves in float32 by
default (``prefer_float32=True``), so on float matrices it is only required never to beat
the optimum, and its excess is reported (``gap``); it also runs with
``prefer_float32=False``. Each contender is timed best of 3 (``min_runs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.harness import Case, Contender, Summary, suite
from zone_opt.matching import assign_dense

RUNS = 3


@dataclass(frozen=True)
class Dense:
    """A cost matrix (int64 or float64) and how it was drawn."""

    costs: npt.NDArray[Any]
    kind: str


def make_dense(n: int, m: int, kind: str, seed: int) -> Dense:
    rng = np.random.default_rng(seed)
    if kind == "int1000":
        return Dense(rng.integers(0, 1000, (n, m)).astype(np.int64), kind)
    return Dense(rng.random((n, m)), kind)


def _total(d: Dense, rows: npt.NDArray[Any], cols: npt.NDArray[Any]) -> Summary:
    picked = d.costs[rows, cols]
    total = int(picked.sum()) if d.costs.dtype == np.int64 else float(picked.sum())
    return {"objective": total, "matched": len(rows)}


def ours(d: Dense) -> Any:
    return assign_dense(d.costs, maximize=False)


def summarize_ours(d: Dense, a: Any) -> Summary:
    rows = np.flatnonzero(a.row_to_col >= 0)
    return _total(d, rows, a.row_to_col[rows])


def _as_float(d: Dense) -> npt.NDArray[np.float64]:
    # lapx and lap take float matrices; an integer matrix is converted (exact below 2^53).
    return np.ascontiguousarray(d.costs, dtype=np.float64)


def lapx_solver(name: str, **kwargs: Any) -> Any:
    def run(d: Dense) -> Any:
        import lap  # noqa: PLC0415 (optional peer)

        costs = _as_float(d)
        n, m = costs.shape
        if n != m and name in ("lapjv", "lapjvx", "lapjvr", "lapjvh"):
            # These need to be told to pad a rectangular matrix (lapjvs pads unasked).
            kwargs["extend_cost"] = True
        return getattr(lap, name)(costs, **kwargs)

    return run


def summarize_mapping(d: Dense, out: Any) -> Summary:
    """lapjv: (cost, x, y), x[i] the column of row i (-1 when unmatched)."""
    x = np.asarray(out[1])
    rows = np.flatnonzero(x >= 0)
    return _total(d, rows, x[rows])


def summarize_pairs(d: Dense, out: Any) -> Summary:
    """The other lapx solvers: (cost, rows, cols) or (rows, cols), aligned as in scipy."""
    rows, cols = np.asarray(out[-2]), np.asarray(out[-1])
    return _total(d, rows.astype(np.int64), cols.astype(np.int64))


def scipy_lsa(d: Dense) -> Any:
    from scipy.optimize import linear_sum_assignment  # noqa: PLC0415 (optional peer)

    return linear_sum_assignment(d.costs)


def summarize_scipy(d: Dense, out: Any) -> Summary:
    return _total(d, out[0], out[1])


APPROXIMATE = ("lap.lapjvs (float32)",)


def agree(summaries: dict[str, Summary]) -> None:
    """Exact solvers agree on the optimum; float32 solvers never beat it (gap recorded)."""
    exact = {k: s for k, s in summaries.items() if k not in APPROXIMATE}
    if not exact:
        return
    ref_name, ref = next(iter(exact.items()))
    best = ref["objective"]
    for name, s in summaries.items():
        value = s["objective"]
        tol = 0 if isinstance(best, int) else 1e-9 * max(1.0, abs(best))
        if name in APPROXIMATE:
            if value < best - tol:
                raise AssertionError(f"{name} gives {value!r} below the optimum {best!r}")
            s["gap"] = value - best
        elif abs(value - best) > tol or s["matched"] != ref["matched"]:
            raise AssertionError(f"{name} gives {value!r}, {ref_name} {best!r}")


def dense_case(n: int, m: int, kind: str, *, slow_timeout_s: float = 60.0) -> Case:
    def peer(name: str, label: str, timeout_s: float = 120.0, **kw: Any) -> Contender:
        return Contender(
            label,
            lapx_solver(name, **kw),
            summarize_mapping if name == "lapjv" else summarize_pairs,
            requires=("lap",),
            timeout_s=timeout_s,
            min_runs=RUNS,
        )

    contenders = [
        Contender("zone-opt assign_dense", ours, summarize_ours, ours=True, min_runs=RUNS),
        peer("lapjvs", "lap.lapjvs (float32)" if kind == "float" else "lap.lapjvs"),
    ]
    if kind == "float":
        contenders.append(peer("lapjvs", "lap.lapjvs (float64)", prefer_float32=False))
    contenders += [
        peer("lapjv", "lap.lapjv"),
        peer("lapjvx", "lap.lapjvx"),
        peer("lapjvr", "lap.lapjvr"),
        peer("lapjvh", "lap.lapjvh"),
        # lapjvc (Heindl's JV) is far slower on integer-valued matrices: bounded.
        peer("lapjvc", "lap.lapjvc", timeout_s=slow_timeout_s),
        Contender(
            "scipy linear_sum_assignment",
            scipy_lsa,
            summarize_scipy,
            requires=("scipy",),
            timeout_s=120.0,
            min_runs=RUNS,
        ),
    ]
    label = "int [0, 1000)" if kind == "int1000" else "uniform float [0, 1)"
    return Case(
        name=f"dense_{kind}_{n}x{m}",
        make=lambda: make_dense(n, m, kind, 11),
        contenders=contenders,
        agree=agree,
        params={"n": n, "m": m, "costs": label, "runs": RUNS},
    )


@suite("matching_dense")
def matching_dense(size: str) -> list[Case]:
    """Dense LAP: zone-opt vs lapx (lapjvs, lapjv, lapjvx, lapjvr, lapjvh, lapjvc) and scipy."""
    if size == "smoke":
        return [
            dense_case(200, 200, "int1000"),
            dense_case(150, 260, "float"),
            dense_case(240, 120, "int1000"),
        ]
    cases = [
        dense_case(4000, 4000, "int1000"),
        dense_case(2000, 2000, "int1000"),
        dense_case(4000, 4000, "float"),
    ]
    for n in (1000, 8000):
        cases.append(dense_case(n, n, "int1000", slow_timeout_s=30.0))
        cases.append(dense_case(n, n, "float", slow_timeout_s=30.0))
    for n, m, kind in (
        (2000, 1000, "int1000"),
        (1000, 2000, "float"),
        (4000, 8000, "int1000"),
        (8000, 4000, "float"),
    ):
        cases.append(dense_case(n, m, kind, slow_timeout_s=30.0))
    return cases
