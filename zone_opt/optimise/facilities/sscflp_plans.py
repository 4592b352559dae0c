"""Single-source facility location: the Lagrangian subproblems (one knapsack per site)
and the primal plans repaired from them and improved by tabu search."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.lagrange import SiteRelaxation
from zone_opt.optimise.facilities.plan_search import SearchLimits, search_plan

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

DP_CELLS = 60_000_000
"""Largest ``customers x sites x (capacity + 1)`` for the exact 0-1 knapsack DP (its
decision table is that many bytes); larger instances use the continuous knapsack."""
IMPROVE_ITERATIONS = 500
"""Tabu-search moves spent on each plan repaired during the ascent (about 0.25 s at
80 x 400): enough to settle the plan's allocation and try a few site changes."""
STALL_ITERATIONS = 30
"""Moves without a better plan before the search changes the open sites."""


class _Knapsacks:
    """The per-site knapsacks of the relaxation, exact (DP) or continuous."""

    def __init__(self, rel: SiteRelaxation) -> None:
        self.rel = rel
        self.m, self.n = rel.m, rel.n
        d, s = rel.d, rel.s
        integral = bool(np.all(d == np.round(d)) and np.all(s == np.round(s)))
        self.cap = int(s.max()) if integral else 0
        self.exact = integral and self.n * self.m * (self.cap + 1) <= DP_CELLS
        if self.exact:
            self.di = np.round(d).astype(np.int64)
            self.si = np.round(s).astype(np.int64)
            self.take = np.zeros((self.n, self.m, self.cap + 1), dtype=bool)
        self.table: F64 | None = None  # (m, cap+1) DP values of the last evaluation
        self._sorted: list[tuple[F64, F64]] = []  # continuous: per site cumulative (w, value)

    def evaluate(self, u: F64) -> tuple[F64, F64]:
        """``(v, x)``: each site's value ``f_i + K_i(s_i)`` and its knapsack (m, n), 0/1
        when exact, fractional otherwise. O(n m cap) exact, O(m n log n) continuous."""
        red = self.rel.cost - u[None, :]  # inf where unreachable
        if self.exact:
            return self._dp(red)
        return self._continuous(red)

    def _dp(self, red: F64) -> tuple[F64, F64]:
        m, cap = self.m, self.cap
        table = np.zeros((m, cap + 1))
        take = self.take
        take.fill(False)  # only the entries of customers with a negative reduced cost are set
        neg = red < 0
        for j in range(self.n):
            rows = np.flatnonzero(neg[:, j])
            dj = int(self.di[j])
            if rows.size == 0 or dj > cap:
                continue
            cur = table[rows, dj:]
            cand = table[rows, : cap + 1 - dj] + red[rows, j, None]
            better = cand < cur
            table[rows, dj:] = np.where(better, cand, cur)
            take[j, rows, dj:] = better
        x = np.zeros((m, self.n))
        c = self.si.copy()
        ar = np.arange(m)
        for j in range(self.n - 1, -1, -1):
            t = take[j, ar, c]
            if t.any():
                x[t, j] = 1.0
                c[t] -= self.di[j]
        self.table = table
        v = self.rel.f + table[ar, self.si]
        return v, x

    def _continuous(self, red: F64) -> tuple[F64, F64]:
        d, s = self.rel.d, self.rel.s
        x = np.zeros((self.m, self.n))
        v = self.rel.f.copy()
        self._sorted = []
        for i in range(self.m):
            items = np.flatnonzero(red[i] < 0)
            order = items[np.argsort(red[i, items] / d[items], kind="stable")]
            w = np.concatenate(([0.0], np.cumsum(d[order])))
            val = np.concatenate(([0.0], np.cumsum(red[i, order])))
            self._sorted.append((w, val))
            before = w[:-1]
            frac = np.clip((s[i] - before) / d[order], 0.0, 1.0)
            x[i, order] = frac
            v[i] += float(frac @ red[i, order])
        return v, x

    def at_capacity(self, c: F64) -> F64:
        """``K_i(c_ij)`` for a (m, n) array of capacities (``inf`` below 0), from the last
        evaluation: the knapsack of site i with capacity ``c_ij`` instead of ``s_i``."""
        out = np.full(c.shape, math.inf)
        ok = c >= 0
        if self.exact:
            assert self.table is not None
            ci = np.where(ok, np.floor(c + 1e-9), 0).astype(np.int64)
            rows = np.broadcast_to(np.arange(self.m)[:, None], c.shape)
            out[ok] = self.table[rows[ok], np.minimum(ci[ok], self.cap)]
            return out
        for i, (w, val) in enumerate(self._sorted):
            good = ok[i]
            out[i, good] = np.interp(c[i, good], w, val)
        return out


class _Plans:
    """Assignments, repair and local search. A plan is ``a`` (n,) site per customer."""

    def __init__(self, rel: SiteRelaxation) -> None:
        self.c = rel.cost  # (m, n), inf where unreachable
        self.d, self.s, self.f = (
            np.ascontiguousarray(v, dtype=np.float64) for v in (rel.d, rel.s, rel.f)
        )
        self.m, self.n = rel.m, rel.n
        self.cols = np.arange(self.n)
        self._cost = np.ascontiguousarray(self.c, dtype=np.float64)
        self._seed = 0

    def cost(self, a: I64) -> float:
        load = np.bincount(a, weights=self.d, minlength=self.m)
        return float(self.f[load > 0].sum() + self.c[a, self.cols].sum())

    def repair(self, x: F64, y: F64) -> I64 | None:
        """A plan from a relaxed solution: customers taken by an open site's knapsack go to
        the cheapest such site with room, the rest by largest demand first to the cheapest
        site with room (opening one if needed). None if some customer cannot be placed."""
        c, d = self.c, self.d
        opened = y > 1e-9
        res = self.s.copy()
        a = np.full(self.n, -1, dtype=np.int64)
        score = np.where((x > 0.5) & opened[:, None], c, math.inf)
        first = np.argmin(score, axis=0)
        has = np.isfinite(score[first, self.cols])
        for j in np.flatnonzero(has)[np.argsort(-d[has], kind="stable")]:
            i = int(first[j])
            if res[i] >= d[j]:
                a[j] = i
                res[i] -= d[j]
        for j in np.flatnonzero(a < 0)[np.argsort(-d[a < 0], kind="stable")]:
            fits = res >= d[j]
            cand = np.where(fits, c[:, j] + np.where(opened, 0.0, self.f), math.inf)
            i = int(np.argmin(cand))
            if not math.isfinite(cand[i]):
                return None
            a[j] = i
            res[i] -= d[j]
            opened[i] = True
        return a

    def improve(
        self,
        a: I64,
        deadline: float,
        *,
        iterations: int = IMPROVE_ITERATIONS,
        stop_at_cost: float = -math.inf,
    ) -> I64:
        """The best plan an iterated tabu search (Rust, :func:`~.plan_search.search_plan`:
        shifts and swaps of customers with an oscillating overload price, a site closed,
        opened or swapped when it stalls) meets from ``a`` within ``iterations`` moves or the
        deadline; ``a`` itself if it meets nothing better. Each call draws the next seed, so
        a run is reproducible when the iteration budgets bind before the deadlines. The
        search stops at a plan costing at most ``stop_at_cost`` (a proven bound)."""
        self._seed += 1
        return self.search(
            a, deadline, seed=self._seed, iterations=iterations, stop_at_cost=stop_at_cost
        )

    def search(
        self,
        a: I64,
        deadline: float,
        *,
        seed: int,
        iterations: int = IMPROVE_ITERATIONS,
        stop_at_cost: float = -math.inf,
    ) -> I64:
        """:meth:`improve` with the given ``seed`` (draws none: safe beside another
        thread's searches)."""
        left = max(0.0, deadline - time.perf_counter())
        limits = SearchLimits(
            time_limit_s=left,
            iterations=iterations,
            stall_iterations=STALL_ITERATIONS,
            seed=seed,
            stop_at_cost=stop_at_cost,
        )
        found = search_plan(self._cost, self.d, self.s, self.f, a, limits)
        if found is None:
            return a
        b = found.assign
        return b if self.cost(b) < self.cost(a) else a


SIDE_CHUNK_S = 2.0
"""Length of one search of the side search (:class:`SideSearch`): it restarts from its
best plan with the next seed after each, and sees a request to stop between them."""
SIDE_SEED = 1 << 20
"""First seed of the side search (apart from the main thread's seeds 1, 2, ...)."""


ELITE_PLANS = 6
"""Plans with distinct open sites the side search restarts from, besides the best."""


class Elite:
    """The cheapest plans met with distinct sets of open sites (at most ``size``); safe to
    offer to from one thread while another reads."""

    def __init__(self, size: int = ELITE_PLANS) -> None:
        self._size = size
        self._kept: dict[bytes, tuple[float, I64]] = {}
        self._lock = threading.Lock()

    def offer(self, a: I64, cost: float) -> None:
        """Keep plan ``a`` (costing ``cost``) if its open sites are new or it is cheaper."""
        key = np.unique(a).tobytes()
        with self._lock:
            if key in self._kept and self._kept[key][0] <= cost:
                return
            self._kept[key] = (cost, a.copy())
            if len(self._kept) > self._size:
                worst = max(self._kept, key=lambda k: self._kept[k][0])
                del self._kept[worst]

    def plans(self) -> list[I64]:
        """The kept plans, cheapest first."""
        with self._lock:
            kept = sorted(self._kept.values(), key=lambda plan: plan[0])
        return [a for _, a in kept]


class SideSearch:
    """Tabu searches on a second core while the first runs its own search, the kernel and
    HiGHS (its MIP is mostly serial; see :mod:`zone_opt.optimise.facilities.sscflp`),
    :data:`SIDE_CHUNK_S` at a time, each with the next seed from :data:`SIDE_SEED`, until
    :meth:`stop`, the deadline or a plan costing at most ``target`` (within the gap of the
    bound). Every other search starts from the best plan (its own or one :meth:`offer`-ed
    by the first core: intensify), the others from the ``elite`` plans in turn, read afresh
    each time (other open sets: a search from the best alone stays in its basin). The Rust
    search releases the GIL."""

    def __init__(
        self,
        plans: _Plans,
        start: I64,
        deadline: float,
        target: float,
        *,
        iterations: int,
        elite: Elite | None = None,
    ) -> None:
        self._plans, self._deadline, self._target = plans, deadline, target
        self._iterations = iterations
        self._elite = elite if elite is not None else Elite(0)
        self._best, self._cost = start, plans.cost(start)
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sscflp-side", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seed = SIDE_SEED
        while not self._halt.is_set() and self._cost > self._target:
            end = min(self._deadline, time.perf_counter() + SIDE_CHUNK_S)
            if end - time.perf_counter() < 0.05:
                return
            turn = seed - SIDE_SEED
            with self._lock:
                start = self._best
            elite = self._elite.plans()
            if turn % 2 and elite:
                start = elite[(turn // 2) % len(elite)]
            found = self._plans.search(
                start, end, seed=seed, iterations=self._iterations, stop_at_cost=self._target
            )
            seed += 1
            self.offer(found)

    def offer(self, a: I64) -> None:
        """Make plan ``a`` the best if it costs less (the next intensifying search starts
        from it)."""
        cost = self._plans.cost(a)
        with self._lock:
            if cost < self._cost:
                self._best, self._cost = a, cost

    def best(self) -> I64:
        """The best plan so far (the search goes on)."""
        with self._lock:
            return self._best

    def stop(self) -> I64:
        """Stop after the current search; the best plan met."""
        self._halt.set()
        self._thread.join()
        return self.best()
