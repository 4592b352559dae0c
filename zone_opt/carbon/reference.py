"""A vectorised numpy implementation of the Scope 2 rules of :func:`zone_opt.carbon.scope2_hourly`.

It exists to check the Rust engine (tests assert identical integers) and to measure it
(``bench/suites/carbon.py``); use :func:`zone_opt.carbon.scope2_hourly` in applications.
It implements the same rules independently: the largest-remainder split with numpy
integer arithmetic and a stable sort for the leftover grams (ties to the lower index),
the priority fill with cumulative sums, and so on. Hours are processed in blocks of
:data:`BLOCK_HOURS` to bound the temporaries. Inputs are assumed valid (the engine
validates).

Complexity: O(N * H * log N) (the sort of the remainders).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BLOCK_HOURS", "scope2_numpy", "split_largest_remainder"]

BLOCK_HOURS = 256
_HALF_G = np.uint64(500_000)
_UG_PER_G = np.uint64(1_000_000)

I64 = npt.NDArray[np.int64]


def split_largest_remainder(total: I64, weights: I64) -> I64:
    """Split ``total[h]`` over ``weights[:, h]`` (non-negative integers): the exact floor of
    ``total * w / sum(w)`` (a float estimate corrected with wrapping int64 arithmetic), the
    leftover units one each to the largest remainders, ties to the lower index. Columns
    whose weights or total are all zero get zeros. int64 (N, H)."""
    n = weights.shape[0]
    s = weights.sum(axis=0)
    ok = (s > 0) & (total > 0)
    safe = np.where(ok, s, 1)
    t = np.where(ok, total, 0)
    ratio = t.astype(np.float64) / safe.astype(np.float64)
    q = (weights.astype(np.float64) * ratio[None, :]).astype(np.int64)
    with np.errstate(over="ignore"):
        r = t[None, :] * weights - q * safe[None, :]  # wraps to the exact remainder
    while (low := r < 0).any():
        q -= low
        r += low * safe[None, :]
    while (high := r >= safe[None, :]).any():
        q += high
        r -= high * safe[None, :]
    left = t - q.sum(axis=0)
    if (left > 0).any():
        order = np.argsort(-r, axis=0, kind="stable")
        bonus = (np.arange(n)[:, None] < left[None, :]).astype(np.int64)
        np.put_along_axis(q, order, np.take_along_axis(q, order, axis=0) + bonus, axis=0)
    return q


def _grams(energy_wh: I64, ug_per_wh: int) -> I64:
    e = energy_wh.astype(np.uint64)
    return ((e * np.uint64(ug_per_wh) + _HALF_G) // _UG_PER_G).astype(np.int64)


def scope2_numpy(
    load_wh: I64,
    pv_wh: I64,
    contract_wh: I64,
    contract_share: I64,
    *,
    location_ug_per_wh: int,
    residual_ug_per_wh: int,
    pv_share: I64 | None = None,
    pv_priority: npt.NDArray[np.uint64] | None = None,
    certificate_wh: I64 | None = None,
    gate_import_wh: I64 | None = None,
    gross_up_losses: bool = False,
    detail: bool = True,
) -> dict[str, I64]:
    """The same outputs as ``zone_opt._core.carbon_scope2`` (a dict of int64 arrays), in numpy.

    Raises:
        ValueError: the gate meter reads less than the tenants' grid draw in some hour.
    """
    n, hours = load_wh.shape
    gross_up = gross_up_losses and gate_import_wh is not None
    location = np.zeros((n, hours), dtype=np.int64)
    market = np.zeros((n, hours), dtype=np.int64)
    empty = np.zeros((0, hours), dtype=np.int64)
    pv_all = np.zeros((n, hours), dtype=np.int64) if detail else empty
    matched_all = np.zeros((n, hours), dtype=np.int64) if detail else empty
    loss_loc_all = np.zeros((n, hours), dtype=np.int64) if gross_up else empty
    loss_mkt_all = np.zeros((n, hours), dtype=np.int64) if gross_up else empty
    hourly = {
        k: np.zeros(hours, dtype=np.int64)
        for k in (
            "export_wh",
            "green_wh",
            "excess_wh",
            "loss_wh",
            "loss_location_total_g",
            "loss_market_total_g",
            "landlord_location_g",
            "landlord_market_g",
        )
    }
    tenant = {
        k: np.zeros(n, dtype=np.int64)
        for k in ("load", "pv", "green", "matched", "location", "market", "loss_loc", "loss_mkt")
    }
    holders = [np.flatnonzero(contract_share[c]) for c in range(contract_share.shape[0])]
    # Position k of the priority order serves tenant order[k].
    order = pv_priority.astype(np.int64) if pv_priority is not None else None
    for h0 in range(0, hours, BLOCK_HOURS):
        h1 = min(h0 + BLOCK_HOURS, hours)
        load = load_wh[:, h0:h1]
        pv_h = pv_wh[h0:h1]
        if pv_share is not None:
            parts = np.broadcast_to(pv_share[:, None], load.shape)
            pv = np.minimum(split_largest_remainder(pv_h, np.ascontiguousarray(parts)), load)
        elif order is not None:
            ordered = load[order]
            before = np.cumsum(ordered, axis=0) - ordered
            pv = np.empty_like(load)
            pv[order] = np.clip(pv_h[None, :] - before, 0, ordered)
        else:
            pv = split_largest_remainder(np.minimum(pv_h, load.sum(axis=0)), load)
        green = (
            certificate_wh[:, h0:h1].copy() if certificate_wh is not None else np.zeros_like(load)
        )
        for c, who in enumerate(holders):
            parts = np.broadcast_to(contract_share[c, who][:, None], (who.size, h1 - h0))
            green[who] += split_largest_remainder(
                contract_wh[c, h0:h1], np.ascontiguousarray(parts)
            )
        draw = load - pv
        matched = np.minimum(draw, green)
        loc = _grams(draw, location_ug_per_wh)
        mkt = _grams(draw - matched, residual_ug_per_wh)
        location[:, h0:h1] = loc
        market[:, h0:h1] = mkt
        if detail:
            pv_all[:, h0:h1] = pv
            matched_all[:, h0:h1] = matched
        hourly["export_wh"][h0:h1] = pv_h - pv.sum(axis=0)
        green_h = green.sum(axis=0)
        hourly["green_wh"][h0:h1] = green_h
        hourly["excess_wh"][h0:h1] = green_h - matched.sum(axis=0)
        draw_h = draw.sum(axis=0)
        if gate_import_wh is not None:
            loss = gate_import_wh[h0:h1] - draw_h
            if (loss < 0).any():
                raise ValueError(f"gate below draw in hour {h0 + int(np.argmax(loss < 0))}")
        else:
            loss = np.zeros(h1 - h0, dtype=np.int64)
        loss_loc = _grams(loss, location_ug_per_wh)
        loss_mkt = _grams(loss, residual_ug_per_wh)
        hourly["loss_wh"][h0:h1] = loss
        hourly["loss_location_total_g"][h0:h1] = loss_loc
        hourly["loss_market_total_g"][h0:h1] = loss_mkt
        if gross_up:
            spread = draw_h > 0
            a = split_largest_remainder(np.where(spread, loss_loc, 0), draw)
            b = split_largest_remainder(np.where(spread, loss_mkt, 0), draw)
            loss_loc_all[:, h0:h1] = a
            loss_mkt_all[:, h0:h1] = b
            tenant["loss_loc"] += a.sum(axis=1)
            tenant["loss_mkt"] += b.sum(axis=1)
            hourly["landlord_location_g"][h0:h1] = np.where(spread, 0, loss_loc)
            hourly["landlord_market_g"][h0:h1] = np.where(spread, 0, loss_mkt)
        else:
            hourly["landlord_location_g"][h0:h1] = loss_loc
            hourly["landlord_market_g"][h0:h1] = loss_mkt
        tenant["load"] += load.sum(axis=1)
        tenant["pv"] += pv.sum(axis=1)
        tenant["green"] += green.sum(axis=1)
        tenant["matched"] += matched.sum(axis=1)
        tenant["location"] += loc.sum(axis=1)
        tenant["market"] += mkt.sum(axis=1)
    return {
        "location_g": location,
        "market_g": market,
        "pv_wh": pv_all,
        "matched_wh": matched_all,
        "loss_location_g": loss_loc_all,
        "loss_market_g": loss_mkt_all,
        **hourly,
        "tenant_load_wh": tenant["load"],
        "tenant_pv_wh": tenant["pv"],
        "tenant_green_wh": tenant["green"],
        "tenant_matched_wh": tenant["matched"],
        "tenant_annual_matched_wh": np.minimum(tenant["load"] - tenant["pv"], tenant["green"]),
        "tenant_location_g": tenant["location"],
        "tenant_market_g": tenant["market"],
        "tenant_loss_location_g": tenant["loss_loc"],
        "tenant_loss_market_g": tenant["loss_mkt"],
    }
