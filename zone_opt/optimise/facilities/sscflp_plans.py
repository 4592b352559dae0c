"""Single-source facility location: the Lagrangian subproblems (one knapsack per site)
and the primal plans repaired from them, kept best-first."""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.facilities.lagrange import SiteRelaxation

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
I64 = NDArray[np.int64]

DP_CELLS = 60_000_000
"""Largest ``customers x sites x (capacity + 1)`` for the exact 0-1 knapsack DP (its
decision table is that many bytes); larger instances use the continuous knapsack."""


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
        self.d, self.s, self.f = rel.d, rel.s, rel.f
        self.m, self.n = rel.m, rel.n
        self.cols = np.arange(self.n)

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

    def improve(self, a: I64, deadline: float) -> I64:
        """Local search to a local optimum (or the deadline): shifts, swaps, site closing."""
        a = a.copy()
        while time.perf_counter() < deadline:
            if self._shift(a) or self._swap(a) or self._close(a) or self._open(a):
                continue
            break
        return a

    def _load(self, a: I64) -> F64:
        return np.asarray(np.bincount(a, weights=self.d, minlength=self.m), dtype=np.float64)

    def _shift(self, a: I64) -> bool:
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        res = self.s - load
        here = c[a, self.cols]
        leaving = np.where(np.abs(load[a] - d) <= 1e-9, f[a], 0.0)  # a_j closes if j leaves
        delta = c - here[None, :] + np.where(load <= 1e-9, f, 0.0)[:, None] - leaving[None, :]
        delta[(res[:, None] < d[None, :] - 1e-9) | (np.arange(self.m)[:, None] == a[None, :])] = (
            math.inf
        )
        best_i = np.argmin(delta, axis=0)
        best = delta[best_i, self.cols]
        moved = False
        for j in np.flatnonzero(best < -1e-9)[np.argsort(best[best < -1e-9], kind="stable")]:
            i, k = int(best_i[j]), int(a[j])
            # Re-check against the loads changed by earlier moves of this pass.
            if res[i] < d[j] - 1e-9:
                continue
            gain = c[i, j] - c[k, j] + (f[i] if load[i] <= 1e-9 else 0.0)
            gain -= f[k] if abs(load[k] - d[j]) <= 1e-9 else 0.0
            if gain >= -1e-9:
                continue
            a[j] = i
            load[i] += d[j]
            load[k] -= d[j]
            res[i] -= d[j]
            res[k] += d[j]
            moved = True
        return moved

    def _swap(self, a: I64) -> bool:
        """Improving swaps of two customers between sites: all candidate pairs scored at
        once, then applied best first, each re-checked against the loads it finds."""
        c, d = self.c, self.d
        load = self._load(a)
        res = self.s - load
        here = c[a, self.cols]
        cross = c[a]  # cross[j2, j1] = c[a_j2, j1]: j1 moved to j2's site
        delta = cross + cross.T - here[None, :] - here[:, None]
        r = res[a]
        ok = (r[:, None] + d[:, None] - d[None, :] >= -1e-9) & (
            r[None, :] + d[None, :] - d[:, None] >= -1e-9
        )
        ok &= a[:, None] != a[None, :]
        ok &= delta < -1e-9
        j2s, j1s = np.nonzero(np.triu(ok))
        if j2s.size == 0:
            return False
        order = np.argsort(delta[j2s, j1s], kind="stable")[: 4 * self.n]
        touched = np.zeros(self.n, dtype=bool)
        moved = False
        for j2, j1 in zip(j2s[order].tolist(), j1s[order].tolist(), strict=True):
            if touched[j1] or touched[j2]:
                continue
            i1, i2 = int(a[j1]), int(a[j2])
            if res[i1] + d[j1] - d[j2] < -1e-9 or res[i2] + d[j2] - d[j1] < -1e-9:
                continue
            a[j1], a[j2] = i2, i1
            res[i1] += d[j1] - d[j2]
            res[i2] += d[j2] - d[j1]
            touched[j1] = touched[j2] = True
            moved = True
        return moved

    def _open(self, a: I64) -> bool:
        """Open the closed site whose opening pays most: it takes the customers it saves
        most on (best saving per unit of demand first, within its capacity), and sites
        left empty close."""
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        here = c[a, self.cols]
        best_gain, best_moves = -1e-9, np.empty(0, dtype=np.int64)
        best_i = -1
        for i in np.flatnonzero(load <= 1e-9):
            save = here - c[i]
            cand = np.flatnonzero(save > 0)
            if cand.size == 0:
                continue
            cand = cand[np.argsort(-save[cand] / d[cand], kind="stable")]
            fits = np.cumsum(d[cand]) <= self.s[i] + 1e-9
            take = cand[fits]
            if take.size == 0:
                continue
            gain = float(save[take].sum()) - f[i]
            left = load - np.bincount(a[take], weights=d[take], minlength=self.m)
            gain += float(f[(load > 1e-9) & (left <= 1e-9)].sum())
            if gain > best_gain:
                best_gain, best_moves, best_i = gain, take, int(i)
        if best_i < 0:
            return False
        a[best_moves] = best_i
        return True

    def _close(self, a: I64) -> bool:
        c, d, f = self.c, self.d, self.f
        load = self._load(a)
        for i in np.flatnonzero(load > 0)[np.argsort(-f[load > 0], kind="stable")]:
            members = np.flatnonzero(a == i)
            res = self.s - load
            res[i] = -math.inf
            gain = -f[i]
            moves: list[tuple[int, int]] = []
            for j in members[np.argsort(-d[members], kind="stable")]:
                cand = np.where((res >= d[j]) & (load > 0), c[:, j], math.inf)
                k = int(np.argmin(cand))
                if not math.isfinite(cand[k]):
                    break
                gain += cand[k] - c[i, j]
                res[k] -= d[j]
                moves.append((int(j), k))
            else:
                if gain < -1e-9:
                    for j, k in moves:
                        a[j] = k
                    return True
        return False
