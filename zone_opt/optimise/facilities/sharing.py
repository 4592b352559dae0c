"""Who pays what: splitting the grand plan's cost among parks.

``cost_shares(problem, players, method)`` with ``players`` mapping each demand id to a park
(:class:`ShareOptions` sets the enumeration limit and the Shapley sampling):

* ``proportional``: each park pays its own transport and operating cost in the joint plan
  plus each open site's fixed cost in proportion to the units it draws there (the
  practitioners' default; it need not be individually rational);
* ``shapley``: average marginal cost over all join orders; exact by enumerating the 2^p
  coalitions (p <= ``ShareOptions.exact_limit``), else by permutation sampling with
  standard errors;
* ``least_core``: minimise the largest coalition excess ``x(S) - c(S)`` (epsilon <= 0
  means the core is non-empty), by constraint generation;
* ``nucleolus``: lexicographically minimise the excesses, a sequence of least-core LPs.

Constraint generation: the LP starts from the singletons; an oracle returns the coalition
with the largest excess for the current split, which is added until none exceeds epsilon.
The oracle enumerates when all coalition values are known (p <= ``exact_limit``) and
otherwise solves one MILP that picks the coalition and its facility plan together
(``min cost(S) - x(S)``, :func:`separation_model`). Coalition costs enter the core rows as
their proven lower bounds, so a reported excess is never understated by the MIP gap.

Every result reports each park's share, its stand-alone cost, its saving, and the worst
coalition (largest excess) under that split: excess > 0 means that group of parks would be
better off alone by that much.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.build import FacilityMatrix
from zone_opt.optimise.facilities.coalitions import (
    MAX_EXACT_PLAYERS,
    CoalitionCosts,
    exact_cap_reason,
    exact_player_cap,
    popcount,
)
from zone_opt.optimise.facilities.problem import FacilityProblem
from zone_opt.optimise.solver import INF, HighsSolver, MatrixModel, SolveOptions, SolveStatus

__all__ = [
    "CostShares",
    "ParkShare",
    "ShareMethod",
    "ShareOptions",
    "cost_shares",
    "separation_model",
]

F64 = NDArray[np.float64]

#: Most join orders sampled Shapley draws.
MAX_SAMPLES = 1_000_000
#: Coalitions per block of the enumeration oracle (its temporaries: a block x p floats).
ORACLE_BLOCK = 1 << 16


class ShareMethod(enum.StrEnum):
    PROPORTIONAL = "proportional"
    SHAPLEY = "shapley"
    LEAST_CORE = "least_core"
    NUCLEOLUS = "nucleolus"


@dataclass(frozen=True)
class ShareOptions:
    """How a split is computed.

    ``exact_limit``: up to this many parks every coalition is solved (2^p - 1 MILPs) and the
    core methods' oracle enumerates them; beyond it Shapley samples ``samples`` random join
    orders (from ``seed``, drawn on the driver) and the core methods use the MILP separation
    oracle. At most :data:`~.coalitions.MAX_EXACT_PLAYERS` (20); a game is enumerated only
    up to the executor's :func:`~.coalitions.exact_player_cap` (16 on this machine).

    Raises:
        InvalidInputError: naming ``exact_limit`` (not an integer in [0, 20]), ``samples``
            (not in [1, :data:`MAX_SAMPLES`]) or ``seed`` (not an integer >= 0).
    """

    exact_limit: int = 12
    samples: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        for name, value, high in (
            ("exact_limit", self.exact_limit, MAX_EXACT_PLAYERS),
            ("samples", self.samples, MAX_SAMPLES),
            ("seed", self.seed, 2**63 - 1),
        ):
            low = 1 if name == "samples" else 0
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or not low <= value <= high
            ):
                raise InvalidInputError.single(
                    name, None, f"must be an integer in [{low}, {high}], got {value!r}"
                )


@dataclass(frozen=True)
class ParkShare:
    """One park's share of the joint cost, its stand-alone cost c({park}) and its saving."""

    park: str
    share_cny: float
    standalone_cny: float
    saving_cny: float
    std_error_cny: float | None = None
    """Sampled Shapley only: standard error of ``share_cny``."""


@dataclass(frozen=True)
class CostShares:
    """A cost split and its stability certificate.

    ``worst_excess_cny`` = max over coalitions S (not empty, not all) of ``x(S) - c(S)``: how
    much the most aggrieved group pays above its stand-alone cost (> 0: it would rather go
    alone; <= 0: the split is in the core). ``least_core_epsilon_cny`` is the smallest
    possible worst excess of any split (computed by ``least_core``/``nucleolus``; None
    otherwise); the core is empty exactly when it is > 0.
    """

    method: ShareMethod
    total_cny: float
    shares: tuple[ParkShare, ...]
    worst_coalition: tuple[str, ...]
    worst_excess_cny: float
    least_core_epsilon_cny: float | None
    exact: bool
    coalitions_solved: int
    elapsed_s: float
    samples: int = 0

    def share(self, park: str) -> float:
        for s in self.shares:
            if s.park == park:
                return s.share_cny
        raise KeyError(park)


def cost_shares(
    problem: FacilityProblem,
    players: Mapping[str, str],
    method: ShareMethod | str = ShareMethod.SHAPLEY,
    *,
    options: SolveOptions | None = None,
    workers: int = 2,
    share_options: ShareOptions | None = None,
    costs: CoalitionCosts | None = None,
) -> CostShares:
    """Split the cost of the optimal joint plan among the parks in ``players``.

    ``players`` maps every demand id to a park name. Coalitions are solved with ``options``
    (warm-started, over ``workers`` threads); ``share_options`` (default
    :class:`ShareOptions`) says when to enumerate and how to sample. Pass ``costs`` to reuse
    coalition values across methods.
    """
    started = time.perf_counter()
    which = ShareMethod(method)
    settings = share_options or ShareOptions()
    cc = costs or CoalitionCosts(problem, players, options=options, workers=workers)
    p = cc.num_players
    exact = p <= settings.exact_limit
    if exact and p > exact_player_cap(cc.executor):
        raise InvalidInputError.single("exact_limit", None, exact_cap_reason(p, cc.executor))
    game = _Game(cc, exact)
    grand = cc.value(cc.grand)
    if not grand.status.has_solution:
        raise InvalidInputError.single(
            "problem", None, f"the joint plan is {grand.status}: nothing to share"
        )
    total = grand.cost_cny
    standalone = np.array([cc.value(1 << k).cost_cny for k in range(p)])
    errors: F64 | None = None
    eps: float | None = None
    n_samples = 0
    if which is ShareMethod.PROPORTIONAL:
        x = _proportional(cc)
    elif which is ShareMethod.SHAPLEY:
        if exact:
            x = _shapley_exact(game.cost, p)
        else:
            x, errors = _shapley_sampled(cc, settings.samples, settings.seed)
            n_samples = settings.samples
    elif which is ShareMethod.LEAST_CORE:
        x, eps = _least_core(game, total)
    else:
        x, eps = _nucleolus(game, total)
    worst_mask, worst = game.most_violated(x)
    shares = tuple(
        ParkShare(
            park=cc.players[k],
            share_cny=float(x[k]),
            standalone_cny=float(standalone[k]),
            saving_cny=float(standalone[k] - x[k]),
            std_error_cny=None if errors is None else float(errors[k]),
        )
        for k in range(p)
    )
    return CostShares(
        method=which,
        total_cny=float(total),
        shares=shares,
        worst_coalition=tuple(cc.players[k] for k in range(p) if worst_mask >> k & 1),
        worst_excess_cny=float(worst),
        least_core_epsilon_cny=eps,
        exact=exact or which is not ShareMethod.SHAPLEY,
        coalitions_solved=cc.solves,
        elapsed_s=time.perf_counter() - started,
        samples=n_samples,
    )


class _Game:
    """Coalition values and the most-violated-coalition oracle (enumeration or MILP)."""

    def __init__(self, cc: CoalitionCosts, exact: bool) -> None:
        self.cc = cc
        self.p = cc.num_players
        self.exact = exact
        self._sep: _Separation | None = None
        if exact:
            self.cost, self.bound = cc.all_values()

    def lower(self, mask: int) -> float:
        """Proven lower bound of c(mask)."""
        return self.cc.value(mask).bound_cny

    def most_violated(
        self, x: F64, excluded: Callable[[NDArray[np.float64]], NDArray[np.bool_]] | None = None
    ) -> tuple[int, float]:
        """The proper coalition with the largest excess ``x(S) - c_lower(S)``, and that excess.

        ``excluded(vectors)`` marks coalitions (0/1 membership rows) to skip. Enumeration
        goes in blocks of :data:`ORACLE_BLOCK` coalitions (the first of equal excesses wins).
        """
        if self.exact:
            n = 1 << self.p
            best, best_excess = 0, -INF
            for lo in range(0, n, ORACLE_BLOCK):
                hi = min(n, lo + ORACLE_BLOCK)
                masks = np.arange(lo, hi, dtype=np.int64)
                member = ((masks[:, None] >> np.arange(self.p)) & 1).astype(np.float64)
                excess = member @ x - self.bound[lo:hi]
                excess[(masks == 0) | (masks == n - 1)] = -INF
                if excluded is not None:
                    excess[excluded(member)] = -INF
                k = int(np.argmax(excess))
                if lo == 0 or excess[k] > best_excess:
                    best, best_excess = lo + k, float(excess[k])
            return best, best_excess
        if self._sep is None:
            self._sep = _Separation(self.cc)
        return self._sep.most_violated(x, excluded, self)


def _shapley_exact(cost: F64, p: int) -> F64:
    """Shapley value from all 2^p coalition costs. O(p 2^p)."""
    masks = np.arange(1 << p, dtype=np.int64)
    size = popcount(masks)
    fact = np.array([float(np.prod(np.arange(1, k + 1))) for k in range(p + 1)])
    weight = fact[size] * fact[np.maximum(p - size - 1, 0)] / fact[p]
    out = np.zeros(p)
    for k in range(p):
        without = masks[(masks >> k & 1) == 0]
        out[k] = np.sum(weight[without] * (cost[without | (1 << k)] - cost[without]))
    return out


def _shapley_sampled(cc: CoalitionCosts, samples: int, seed: int) -> tuple[F64, F64]:
    """Permutation sampling (Castro et al. 2009): unbiased, error ~ 1/sqrt(samples)."""
    rng = np.random.default_rng(seed)
    p = cc.num_players
    orders = [rng.permutation(p) for _ in range(max(2, samples))]
    prefixes = {0}
    for order in orders:
        mask = 0
        for k in order:
            mask |= 1 << int(k)
            prefixes.add(mask)
    cc.evaluate(sorted(prefixes))
    marginal = np.zeros((len(orders), p))
    for r, order in enumerate(orders):
        mask, prev = 0, 0.0
        for k in order:
            mask |= 1 << int(k)
            now = cc.value(mask).cost_cny
            marginal[r, k] = now - prev
            prev = now
    mean = marginal.mean(axis=0)
    err = marginal.std(axis=0, ddof=1) / np.sqrt(len(orders))
    return mean, err


def _proportional(cc: CoalitionCosts) -> F64:
    """Own service cost in the joint plan plus open sites' fixed cost by units drawn."""
    fm = cc.fm
    solver = HighsSolver(fm.model)
    sol = solver.solve(cc.options)
    if sol.x is None:
        raise InvalidInputError.single("problem", None, "the joint plan has no solution")
    m = fm.num_sites
    xa = np.clip(sol.x[m:], 0.0, 1.0)
    owner = cc.owner[fm.arc_demand]
    p = cc.num_players
    service = np.bincount(
        owner, weights=xa * (fm.arc_transport_cny + fm.arc_operating_cny), minlength=p
    )
    units = xa * fm.arc_amount
    per_site = np.bincount(fm.arc_site, weights=units, minlength=m)
    fixed = np.asarray(cc.problem.fixed_cost_cny) * (sol.x[:m] > 0.5)
    share_of_site = np.where(
        per_site[fm.arc_site] > 0, units / np.maximum(per_site[fm.arc_site], 1e-300), 0.0
    )
    fixed_part = np.bincount(owner, weights=share_of_site * fixed[fm.arc_site], minlength=p)
    out = np.asarray(service + fixed_part, dtype=np.float64)
    # Rounding: the shares add up to c(N) exactly.
    out += (sol.objective - out.sum()) / p
    return out


@dataclass
class _Coalitions:
    """Rows ``x(S)`` of a least-core LP: each coalition's membership vector, right-hand
    side and bit mask."""

    vectors: list[F64] = field(default_factory=list)
    rhs: list[float] = field(default_factory=list)
    masks: list[int] = field(default_factory=list)

    @classmethod
    def singletons(cls, game: _Game) -> _Coalitions:
        masks = [1 << k for k in range(game.p)]
        vectors = [np.eye(game.p)[k] for k in range(game.p)]
        return cls(vectors, [game.lower(m) for m in masks], masks)

    def add(self, vector: F64, rhs: float, mask: int) -> None:
        self.vectors.append(vector)
        self.rhs.append(rhs)
        self.masks.append(mask)

    def kept(self, keep: NDArray[np.bool_]) -> _Coalitions:
        """The rows where ``keep`` is true."""
        return _Coalitions(
            [r for r, k in zip(self.vectors, keep, strict=True) if k],
            [b for b, k in zip(self.rhs, keep, strict=True) if k],
            [m for m, k in zip(self.masks, keep, strict=True) if k],
        )


def _core_lp(rows: _Coalitions, fixed: _Coalitions, total: float, p: int) -> tuple[F64, float, F64]:
    """min eps s.t. x(N) = total, x(F) = rhs_F (fixed), x(S) - eps <= rhs_S. -> (x, eps, duals)."""
    n_rows = 1 + len(fixed.vectors) + len(rows.vectors)
    a = np.zeros((n_rows, p + 1))
    a[0, :p] = 1.0
    lo = np.full(n_rows, -INF)
    hi = np.empty(n_rows)
    lo[0] = hi[0] = total
    for r, (v, b) in enumerate(zip(fixed.vectors, fixed.rhs, strict=True), start=1):
        a[r, :p] = v
        lo[r] = hi[r] = b
    base = 1 + len(fixed.vectors)
    for r, (v, b) in enumerate(zip(rows.vectors, rows.rhs, strict=True), start=base):
        a[r, :p] = v
        a[r, p] = -1.0
        hi[r] = b
    ri, ci = np.nonzero(a)
    cost = np.zeros(p + 1)
    cost[p] = 1.0
    model = MatrixModel.from_coo(
        (ri, ci, a[ri, ci]), cost=cost, col_bounds=(-INF, INF), row_bounds=(lo, hi)
    )
    sol = HighsSolver(model).solve(SolveOptions(threads=1))
    if sol.x is None or sol.row_dual is None:
        raise InvalidInputError.single("players", None, f"least-core LP: {sol.status}")
    return sol.x[:p], float(sol.x[p]), sol.row_dual[base:]


def _generate(
    game: _Game,
    total: float,
    rows: _Coalitions,
    *,
    fixed: _Coalitions,
    excluded: Callable[[NDArray[np.float64]], NDArray[np.bool_]] | None,
) -> tuple[F64, float, F64]:
    """Constraint generation for one (least-core) LP stage; adds the coalitions it
    generates to ``rows``."""
    p = game.p
    tol = 1e-7 * max(1.0, abs(total))
    while True:
        x, eps, duals = _core_lp(rows, fixed, total, p)
        mask, excess = game.most_violated(x, excluded)
        if excess <= eps + tol or mask in rows.masks:
            return x, eps, duals
        rows.add(
            np.array([(mask >> k) & 1 for k in range(p)], dtype=np.float64), game.lower(mask), mask
        )


def _least_core(game: _Game, total: float) -> tuple[F64, float]:
    rows = _Coalitions.singletons(game)
    x, eps, _ = _generate(game, total, rows, fixed=_Coalitions(), excluded=None)
    return x, eps


def _nucleolus(game: _Game, total: float) -> tuple[F64, float]:
    """Maschler-Peleg-Shapley sequence; each stage fixes the coalitions whose rows carry a
    positive dual (tight in every optimum) and excludes coalitions in their span."""
    p = game.p
    fixed = _Coalitions()
    basis = np.ones((1, p)) / np.sqrt(p)  # orthonormal rows spanning fixed vectors and 1

    def in_span(vectors: NDArray[np.float64]) -> NDArray[np.bool_]:
        resid = vectors - (vectors @ basis.T) @ basis
        return np.asarray(np.abs(resid).max(axis=1) < 1e-9)

    rows = _Coalitions.singletons(game)
    first_eps: float | None = None
    x = np.zeros(p)
    for _ in range(p):
        keep = ~in_span(np.array(rows.vectors)) if rows.vectors else np.zeros(0, dtype=bool)
        rows = rows.kept(keep)
        x, eps, duals = _generate(game, total, rows, fixed=fixed, excluded=in_span)
        if first_eps is None:
            first_eps = eps
        tight = [i for i in range(len(rows.vectors)) if abs(duals[i]) > 1e-9]
        if not tight:
            break
        for i in tight:
            fixed.add(rows.vectors[i], rows.rhs[i] + eps, rows.masks[i])
            v = rows.vectors[i] - (rows.vectors[i] @ basis.T) @ basis
            norm = float(np.linalg.norm(v))
            if norm > 1e-9:
                basis = np.vstack([basis, v / norm])
        if basis.shape[0] >= p:
            break
    return x, float(first_eps if first_eps is not None else 0.0)


class _Separation:
    """The MILP oracle: ``min cost(plan for S) - x(S)`` over coalitions S and their plans.

    Columns: the facility model's (y, arcs) plus z_k (park k in S). Demand rows become
    ``sum_i x_(j,i,t) - z_owner(j) = 0``; the aggregate capacity rows
    ``sum_i s_it y_i - sum_k D_tk z_k >= 0``; ``1 <= sum z <= p - 1``. Excluded coalitions
    are cut off by no-good rows.
    """

    def __init__(self, cc: CoalitionCosts) -> None:
        self.cc = cc
        self.model = separation_model(cc.fm, cc.owner, cc.num_players)
        self.solver = HighsSolver(self.model)
        self.zcol = self.model.num_cols - cc.num_players
        self.options = cc.options

    def most_violated(
        self,
        x: F64,
        excluded: Callable[[NDArray[np.float64]], NDArray[np.bool_]] | None,
        game: _Game,
    ) -> tuple[int, float]:
        p = self.cc.num_players
        self.solver.set_costs(np.arange(self.zcol, self.zcol + p), -x)
        first_cut = self.solver.num_rows
        try:
            return self._search(x, excluded, game)
        finally:
            # No-good cuts belong to this call's exclusion only.
            self.solver.delete_rows(np.arange(first_cut, self.solver.num_rows))

    def _search(
        self,
        x: F64,
        excluded: Callable[[NDArray[np.float64]], NDArray[np.bool_]] | None,
        game: _Game,
    ) -> tuple[int, float]:
        p = self.cc.num_players
        for _ in range(256):
            sol = self.solver.solve(self.options)
            if sol.x is None:
                return 0, -INF
            z = np.round(sol.x[self.zcol :]).astype(np.int64)
            mask = int(np.sum(z << np.arange(p)))
            if excluded is not None and excluded(z[None, :].astype(np.float64))[0]:
                # A no-good cut: sum_{k not in S} z_k - sum_{k in S} z_k >= 1 - |S|.
                coef = np.where(z == 1, -1.0, 1.0)
                self.solver.add_rows(
                    [1.0 - z.sum()], [INF], [0], np.arange(self.zcol, self.zcol + p), coef
                )
                continue
            excess = float(x @ z) - game.lower(mask)
            return mask, excess
        return 0, -INF


def separation_model(fm: FacilityMatrix, owner: NDArray[np.int64], p: int) -> MatrixModel:
    """The separation MILP of :class:`_Separation` built from the facility matrix."""
    base = fm.model
    n_cols = base.num_cols
    cols = np.repeat(np.arange(n_cols), np.diff(base.a_start))
    rows = base.a_index.astype(np.int64)
    vals = base.a_value
    n_dem = fm.demand_row_park.shape[0]
    demand_amount = fm.problem.demand  # (n, k)
    # z in demand rows: -1 on (row r, z_owner(park of r)).
    zr = np.arange(n_dem, dtype=np.int64)
    zc = n_cols + owner[fm.demand_row_park]
    zv = -np.ones(n_dem)
    # z in aggregate rows: -D_tk.
    per_player = np.zeros((p, demand_amount.shape[1]))
    np.add.at(per_player, owner, demand_amount)
    ar, ac, av = [], [], []
    for pos, t in enumerate(fm.aggregate_types.tolist()):
        for k in range(p):
            if per_player[k, t] > 0:
                ar.append(fm.first_aggregate_row + pos)
                ac.append(n_cols + k)
                av.append(-per_player[k, t])
    row_lower = base.row_lower.copy()
    row_upper = base.row_upper.copy()
    row_lower[:n_dem] = 0.0
    row_upper[:n_dem] = 0.0
    row_lower[fm.first_aggregate_row : fm.first_aggregate_row + fm.aggregate_types.shape[0]] = 0.0
    size_row = base.num_rows
    all_rows = np.concatenate([rows, zr, np.array(ar, dtype=np.int64), np.full(p, size_row)])
    all_cols = np.concatenate([cols, zc, np.array(ac, dtype=np.int64), n_cols + np.arange(p)])
    all_vals = np.concatenate([vals, zv, np.array(av), np.ones(p)])
    integer = np.concatenate(
        [
            base.integer if base.integer is not None else np.zeros(n_cols, bool),
            np.ones(p, dtype=bool),
        ]
    )
    return MatrixModel.from_coo(
        (all_rows, all_cols, all_vals),
        cost=np.concatenate([base.cost, np.zeros(p)]),
        col_bounds=(0.0, 1.0),
        row_bounds=(np.concatenate([row_lower, [1.0]]), np.concatenate([row_upper, [p - 1.0]])),
        integer=integer,
    )


def _status_ok(status: SolveStatus) -> bool:
    return status.has_solution
