"""Carbon allocation: pro rata against a vectorised numpy implementation of the same
largest-remainder rule (identical grams asserted), Scope 2 (PV sharing, hourly contract
matching, location- and market-based) against ``zone_opt.carbon.reference`` (the same
rules in numpy; identical integers asserted), and Shapley exact and sampled.

Full sizes are the targets of issue 6: pro rata over 10^4 tenants x 8 760 h; Shapley exact
for 20 tenants x 8 760 h and sampled for 1 000 tenants x 8 760 h (standard error reported
relative to the mean allocation).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.carbon import (
    Scope2Options,
    ShapleyAllocation,
    allocate_pro_rata_pooled,
    grid_factor,
    scope2_hourly,
    shapley_allocation,
)
from zone_opt.carbon.reference import scope2_numpy

HOURS = 8760
ProRataInstance = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
ProRataOutput = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def _pro_rata_instance(n: int, hours: int) -> ProRataInstance:
    rng = np.random.default_rng(0)
    use = rng.gamma(1.5, 40.0, size=(n, hours))
    use[rng.random((n, hours)) < 0.05] = 0.0
    use[:, : max(1, hours // 100)] = 0.0  # some hours nobody draws anything
    total_g = rng.integers(0, 20_000_000, size=hours, dtype=np.int64)
    return total_g, use


def numpy_pro_rata(total_g: npt.NDArray[np.int64], use: npt.NDArray[np.float64]) -> ProRataOutput:
    """The engine's rule, vectorised: integer weights with ``min(52, 61 - bitlen(n))``
    significant bits, exact floor quotas (a float estimate corrected with wrapping int64
    arithmetic), the leftover grams to the largest remainders (stable sort: ties to the
    lower index). Processed in blocks of hours to bound the temporaries."""
    n, hours = use.shape
    alloc = np.zeros((n, hours), dtype=np.int64)
    pool = np.zeros(hours, dtype=np.int64)
    bits = min(52, 61 - n.bit_length())
    for h0 in range(0, hours, 256):
        u = use[:, h0 : h0 + 256]
        t = total_g[h0 : h0 + 256]
        exponent = np.frexp(u.max(axis=0, initial=0.0))[1]
        w = np.rint(np.ldexp(u, (bits - exponent)[None, :])).astype(np.int64)
        w_sum = w.sum(axis=0)
        used = w_sum > 0
        safe = np.where(used, w_sum, 1)[None, :]
        tt = t[None, :]
        q = (tt.astype(np.float64) * w.astype(np.float64) / safe.astype(np.float64)).astype(
            np.int64
        )
        r = tt * w - q * safe  # wraps, exactly the true remainder (see the engine)
        while (low := r < 0).any():
            q -= low
            r += low * safe
        while (high := r >= safe).any():
            q += high
            r -= high * safe
        left = np.where(used, t - q.sum(axis=0), 0)
        order = np.argsort(-r, axis=0, kind="stable")
        bonus = (np.arange(n)[:, None] < left[None, :]).astype(np.int64)
        np.put_along_axis(q, order, np.take_along_axis(q, order, axis=0) + bonus, axis=0)
        alloc[:, h0 : h0 + 256] = q
        pool[h0 : h0 + 256] = np.where(used, 0, t)
    return alloc, pool


def _zone_opt_pro_rata(instance: ProRataInstance) -> ProRataOutput:
    r = allocate_pro_rata_pooled(*instance)
    return r.alloc_g, r.unallocated_g


def _summarize_pro_rata(instance: ProRataInstance, output: ProRataOutput) -> Summary:
    alloc, pool = output
    total_g = instance[0]
    return {
        "sha256": hashlib.sha256(alloc.tobytes() + pool.tobytes()).hexdigest()[:16],
        "conserves": bool((alloc.sum(axis=0) + pool == total_g).all()),
        "non_negative": bool((alloc >= 0).all()),
        "pool_g": int(pool.sum()),
    }


Scope2Instance = dict[str, npt.NDArray[np.int64]]
Scope2Output = dict[str, npt.NDArray[Any]]
_LOCATION = grid_factor("MEE-2023", "east")
_RESIDUAL = grid_factor("MEE-2023-residual")


def _scope2_instance(n: int, hours: int) -> Scope2Instance:
    """A park: tenants' hourly loads (Wh, daily shape + noise), a PV array sized to cover
    about a fifth of the load, three green contracts (PPA-like, flat-ish) each held by a
    tenth of the tenants in integer parts, a gate meter with 2 % losses."""
    rng = np.random.default_rng(2)
    hour_of_day = np.arange(hours) % 24
    shape = 0.6 + 0.4 * np.sin((hour_of_day - 6) / 24 * 2 * np.pi).clip(0)
    size = rng.gamma(2.0, 40_000.0, size=n)
    load = (size[:, None] * shape[None, :] * rng.uniform(0.7, 1.3, (n, hours))).astype(np.int64)
    load[rng.random((n, hours)) < 0.03] = 0
    sun = np.sin((hour_of_day - 6) / 12 * np.pi).clip(0)
    pv = (sun * load.sum(axis=0).mean() * 0.6 * rng.uniform(0.3, 1.0, hours)).astype(np.int64)
    contracts = 3
    contract_wh = rng.uniform(0.5, 1.0, (contracts, hours)) * load.sum(axis=0).mean() * 0.04
    share = np.zeros((contracts, n), dtype=np.int64)
    for c in range(contracts):
        holders = rng.choice(n, max(1, n // 10), replace=False)
        share[c, holders] = rng.integers(1, 100, holders.size)
    draw_upper = load.sum(axis=0)
    gate = draw_upper + draw_upper // 50
    return {
        "load": load,
        "pv": pv,
        "contract_wh": contract_wh.astype(np.int64),
        "contract_share": share,
        "gate": gate,
    }


def _scope2_options(inst: Scope2Instance) -> Scope2Options:
    return Scope2Options(
        contract_wh=inst["contract_wh"],
        contract_share=inst["contract_share"],
        gate_import_wh=inst["gate"],
        losses="landlord",
        detail=False,
    )


def _zone_opt_scope2(inst: Scope2Instance) -> Scope2Output:
    r = scope2_hourly(
        inst["load"],
        inst["pv"],
        location_factor=_LOCATION,
        residual_factor=_RESIDUAL,
        options=_scope2_options(inst),
    )
    return {
        "location_g": r.location_g,
        "market_g": r.market_g,
        "export_wh": r.export_wh,
        "excess_wh": r.excess_wh,
        "tenant_matched_wh": r.tenant_matched_wh,
        "tenant_annual_matched_wh": r.tenant_annual_matched_wh,
        "loss_location_total_g": r.loss_location_total_g,
        "landlord_location_g": r.landlord_location_g,
    }


def _numpy_scope2(inst: Scope2Instance) -> Scope2Output:
    return scope2_numpy(
        inst["load"],
        inst["pv"],
        location_factor=_LOCATION,
        residual_factor=_RESIDUAL,
        options=_scope2_options(inst),
    )


_SCOPE2_KEYS = (
    "location_g",
    "market_g",
    "export_wh",
    "excess_wh",
    "tenant_matched_wh",
    "tenant_annual_matched_wh",
    "loss_location_total_g",
    "landlord_location_g",
)


def _summarize_scope2(inst: Scope2Instance, out: Scope2Output) -> Summary:
    h = hashlib.sha256()
    for key in _SCOPE2_KEYS:
        # The engine's (N, H) results may be int32 (same integers): hash them as int64.
        h.update(np.ascontiguousarray(out[key], dtype=np.int64).tobytes())
    park = out["location_g"].sum(axis=0) + out["loss_location_total_g"]
    tenants = out["location_g"].sum(axis=0)
    load = inst["load"].sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        hms = np.nanmean(out["tenant_matched_wh"] / load)
    return {
        "sha256": h.hexdigest()[:16],
        "conserves": bool((tenants + out["landlord_location_g"] == park).all()),
        "location_t": round(int(park.sum()) / 1e6, 3),
        "market_t": round(int(out["market_g"].sum()) / 1e6, 3),
        "mean_hourly_matching": round(float(hms), 6),
    }


ShapleyInstance = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _shapley_instance(n: int, hours: int) -> ShapleyInstance:
    """A chiller plant: standby, a cheap band, then steeper; loads in kWh, grams/h."""
    rng = np.random.default_rng(1)
    use = rng.gamma(2.0, 1000.0 / n, size=(n, hours))
    use[rng.random((n, hours)) < 0.1] = 0.0
    peak = float(use.sum(axis=0).max()) * 1.05
    load_points = np.array([0.0, 0.3, 0.6, 0.85, 1.0]) * peak
    emission_points = np.array([2e4, 1.5e5, 3.5e5, 7e5, 1.1e6])
    return use, load_points, emission_points


def _summarize_shapley(_instance: ShapleyInstance, r: ShapleyAllocation) -> Summary:
    mean = float(r.co2e_g.mean())
    return {
        "conserves": int(r.co2e_g.sum()) + r.unallocated_g == r.total_g,
        "exact": r.exact,
        "samples_per_hour": r.samples,
        "max_se_over_mean": round(float(r.se_g.max()) / mean, 6) if mean else 0.0,
        "total_t": round(r.total_g / 1e6, 3),
    }


@suite("carbon")
def carbon_suite(size: str) -> list[Case]:
    """Pro rata and Scope 2 (vs numpy, same rules), Shapley exact and sampled."""
    smoke = size == "smoke"
    n_pr, h_pr = (200, 300) if smoke else (10_000, HOURS)
    n_s2, h_s2 = (300, 200) if smoke else (10_000, HOURS)
    n_ex, h_ex = (8, 48) if smoke else (20, HOURS)
    n_sa, h_sa = (60, 48) if smoke else (1_000, HOURS)
    shapley_exact = Contender(
        "zone-opt shapley exact",
        run=lambda inst: shapley_allocation(*inst, exact=True),
        summarize=_summarize_shapley,
        ours=True,
    )
    shapley_sampled = Contender(
        "zone-opt shapley sampled",
        run=lambda inst: shapley_allocation(*inst, exact=False),
        summarize=_summarize_shapley,
        ours=True,
    )
    return [
        Case(
            name=f"pro-rata-{n_pr}x{h_pr}",
            make=lambda: _pro_rata_instance(n_pr, h_pr),
            contenders=[
                Contender(
                    "zone-opt allocate_pro_rata",
                    run=_zone_opt_pro_rata,
                    summarize=_summarize_pro_rata,
                    ours=True,
                ),
                Contender(
                    "numpy largest remainder",
                    run=lambda inst: numpy_pro_rata(*inst),
                    summarize=_summarize_pro_rata,
                ),
            ],
            agree=agree_on("sha256", "conserves", "non_negative", "pool_g"),
            params={"tenants": n_pr, "hours": h_pr, "seed": 0},
        ),
        Case(
            name=f"scope2-{n_s2}x{h_s2}",
            make=lambda: _scope2_instance(n_s2, h_s2),
            contenders=[
                Contender(
                    "zone-opt scope2_hourly",
                    run=_zone_opt_scope2,
                    summarize=_summarize_scope2,
                    ours=True,
                ),
                Contender(
                    "numpy, same rules",
                    run=_numpy_scope2,
                    summarize=_summarize_scope2,
                    timeout_s=600.0,
                ),
            ],
            agree=agree_on("sha256", "conserves", "location_t", "market_t"),
            params={
                "tenants": n_s2,
                "hours": h_s2,
                "contracts": 3,
                "pv": "pro-rata",
                "losses": "landlord (2 % at the gate)",
                "seed": 2,
            },
        ),
        Case(
            name=f"shapley-exact-{n_ex}x{h_ex}",
            make=lambda: _shapley_instance(n_ex, h_ex),
            contenders=[shapley_exact],
            agree=agree_on("conserves"),
            params={"tenants": n_ex, "hours": h_ex, "seed": 1},
        ),
        Case(
            name=f"shapley-sampled-{n_sa}x{h_sa}",
            make=lambda: _shapley_instance(n_sa, h_sa),
            contenders=[shapley_sampled],
            agree=agree_on("conserves"),
            params={"tenants": n_sa, "hours": h_sa, "seed": 1, "samples": 32},
        ),
    ]
