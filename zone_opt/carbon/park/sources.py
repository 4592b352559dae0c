"""One step per emission source, each adding its grams to the run's ledger and its method
to the manifest: grid electricity (Scope 2, both methods, with distribution losses),
natural gas (Scope 1), the park CHP's heat, and shared facilities (Scope 3)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from zone_opt.carbon.allocation import allocate_pro_rata_pooled
from zone_opt.carbon.chp import ChpMethod, ChpOptions, chp_split
from zone_opt.carbon.park.config import ParkCarbonConfig, invalid, plain
from zone_opt.carbon.park.inputs import Grids
from zone_opt.carbon.park.ledger import Ledger, flat_split, split_rows, wide
from zone_opt.carbon.scope2 import Scope2Options, Scope2Result, scope2_hourly

__all__ = ["BOTH", "Run", "chp", "electricity", "facilities", "natural_gas"]

#: Scope 1, CHP heat and Scope 3 count the same under both Scope 2 methods.
BOTH = ("location", "market")


@dataclass
class Run:
    """What every source's step reads (the park, its tenants, their meters) and adds to
    (the ledger and the manifest's methods)."""

    config: ParkCarbonConfig
    tenants: list[str]
    grids: Grids
    ledger: Ledger
    methods: dict[str, Any] = field(default_factory=dict)

    @property
    def hours(self) -> int:
        return self.config.hours

    @property
    def index(self) -> dict[str, int]:
        return {e: i for i, e in enumerate(self.tenants)}


def electricity(
    run: Run,
    pv: npt.NDArray[np.int64],
    kwp: float,
    location_factor: Any,
    residual_factor: Any,
) -> Scope2Result:
    """Grid electricity, Scope 2 by both methods: PV shared hour by hour, contracts matched
    hour by hour, distribution losses from the gate meter; returns the Scope 2 result (its
    PV and matched energy feed the KPIs)."""
    config, hours, index = run.config, run.hours, run.index
    n = len(run.tenants)
    contract_wh = np.zeros((len(config.contracts), hours), dtype=np.int64)
    contract_share = np.zeros((len(config.contracts), n), dtype=np.int64)
    sun = np.maximum(pv.astype(np.float64), 0.0)
    for c, contract in enumerate(config.contracts):
        shape = sun if contract.profile == "solar" and sun.sum() > 0 else np.ones(hours)
        total_wh = round(contract.annual_mwh * 1e6 * hours / 8760.0)
        contract_wh[c] = allocate_pro_rata_pooled(
            np.array([total_wh], dtype=np.int64), shape[:, None]
        ).alloc_g[:, 0]
        for e, parts in contract.holders.items():
            if e not in index:
                raise invalid("park.contracts.holders", c, f"{e} is not a tenant of the park")
            contract_share[c, index[e]] = parts
    pv_share: npt.ArrayLike | None = None
    pv_priority: npt.ArrayLike | None = None
    if config.pv_sharing == "contract-share":
        pv_share = np.array([config.pv_shares.get(e, 0) for e in run.tenants])
    elif config.pv_sharing == "priority":
        missing = [e for e in config.pv_priority if e not in index]
        if missing:
            raise invalid("park.pv.priority", None, f"{missing[0]} is not a tenant of the park")
        listed = [index[e] for e in config.pv_priority]
        pv_priority = listed + [i for i in range(n) if i not in set(listed)]
    # First without the gate meter, for the PV exported; then with it (the losses).
    options = Scope2Options(
        pv_sharing=config.pv_sharing,
        pv_share=pv_share,
        pv_priority=pv_priority,
        contract_wh=contract_wh,
        contract_share=contract_share,
        detail=False,
    )
    load_wh = run.grids.electricity_wh
    first = scope2_hourly(
        load_wh,
        pv,
        location_factor=location_factor,
        residual_factor=residual_factor,
        options=options,
    )
    draw = load_wh.sum(axis=0) - (pv - first.export_wh)
    gate = draw + np.rint(draw * config.loss_pct / 100.0).astype(np.int64)
    metered = replace(options, gate_import_wh=gate, losses=config.losses, detail=True)
    s2 = scope2_hourly(
        load_wh,
        pv,
        location_factor=location_factor,
        residual_factor=residual_factor,
        options=metered,
    )
    build = run.ledger
    build.add(("location",), "scope2-location", "grid-electricity", wide(s2.location_g))
    build.add(("market",), "scope2-market", "grid-electricity", wide(s2.market_g))
    for method, cells, landlord in (
        ("location", s2.loss_location_g, s2.landlord_location_g),
        ("market", s2.loss_market_g, s2.landlord_market_g),
    ):
        share = None if cells is None else wide(cells)
        total = s2.loss_location_total_g if method == "location" else s2.loss_market_total_g
        build.add(
            (method,), f"scope2-{method}", "grid-losses", share, landlord_g=landlord,
            inventory_g=total,
        )  # fmt: skip
    run.methods["electricity"] = {**s2.manifest, "pv_kwp": kwp, "loss_pct": config.loss_pct}
    return s2


def natural_gas(run: Run) -> None:
    """Natural gas, Scope 1: ``round(m3 x g/m3)`` per tenant-hour."""
    gas_g = np.floor(run.grids.gas_m3 * run.config.gas_g_per_m3 + 0.5).astype(np.int64)
    run.ledger.add(BOTH, "scope1", "natural-gas", gas_g)
    run.methods["natural_gas"] = {
        "rule": "round(m3 x g/m3) per tenant-hour",
        "g_per_m3": run.config.gas_g_per_m3,
    }


def chp(run: Run) -> None:
    """The park CHP: its fuel emissions split between heat and power
    (:func:`~zone_opt.carbon.chp_split`), the heat by metered GJ with the network losses'
    share to the landlord, the power exported. Nothing without a CHP."""
    spec = run.config.chp
    if spec is None:
        return
    grids, n = run.grids, len(run.tenants)
    loss = float(spec.get("network_loss_pct", 5.0)) / 100.0
    if not 0 <= loss < 1:
        raise invalid("park.chp.network_loss_pct", None, "must be in [0, 100)")
    delivered = grids.heat_gj.sum(axis=0)
    gate_heat = delivered / (1.0 - loss)
    power_gj = gate_heat * float(spec.get("power_to_heat", 0.6))
    fuel_gj = (gate_heat + power_gj) / float(spec.get("fuel_efficiency", 0.8))
    total_g = np.floor(fuel_gj * float(spec.get("fuel_co2e_kg_per_gj", 56.1)) * 1000 + 0.5)
    method = ChpMethod(str(spec.get("method", "efficiency")))
    steam = spec.get("steam_temperature_c")
    options = ChpOptions(
        method=method,
        heat_efficiency=float(spec.get("heat_efficiency", 0.80)),
        power_efficiency=float(spec.get("power_efficiency", 0.35)),
        steam_temperature_c=float(steam) if steam is not None else None,
    )
    split = chp_split(total_g.astype(np.int64), power_gj, gate_heat, options=options)
    weights = np.vstack([grids.heat_gj, (gate_heat - delivered)[None, :]])
    heat_alloc, pool = split_rows(split.heat_g, weights)
    for m in BOTH:
        run.ledger.add(
            (m,),
            f"scope2-{m}",
            "chp",
            heat_alloc[:n],
            landlord_g=heat_alloc[n] + pool,
            export_g=split.power_g,
            inventory_g=total_g.astype(np.int64),
        )
    run.methods["chp"] = {
        "split": method.value,
        **{k: v for k, v in spec.items() if k != "method"},
        "heat_rule": "by metered GJ; network losses to the landlord; power exported",
    }


def facilities(run: Run) -> None:
    """Shared facilities, Scope 3: each hour's emissions split among products (by energy,
    exergy or fixed shares), then each product among tenants by its allocation key; a
    product nobody uses stays with the landlord."""
    hours, tenants = run.hours, run.tenants
    for k, facility in enumerate(run.config.facilities):
        total = flat_split(round(facility.annual_co2e_t * 1e6 * hours / 8760.0), hours)
        if facility.split_by == "energy":
            weight = [p.energy_gj for p in facility.products]
        elif facility.split_by == "exergy":
            weight = [p.energy_gj * p.exergy_factor for p in facility.products]
        else:
            weight = [p.share for p in facility.products]
        if not any(w > 0 for w in weight) or any(w < 0 for w in weight):
            raise invalid("park.facilities.products", k, "product weights must be >= 0, some > 0")
        by_product = allocate_pro_rata_pooled(
            total, np.repeat(np.array(weight, dtype=np.float64)[:, None], hours, axis=1)
        ).alloc_g
        for p, product in enumerate(facility.products):
            keys = np.array(
                [facility.keys.get(e, {}).get(product.key, 0.0) for e in tenants], dtype=np.float64
            )
            bad = np.flatnonzero(~(np.isfinite(keys) & (keys >= 0)))
            if bad.size:
                raise invalid("park.facilities.keys", k, f"{tenants[bad[0]]}: {product.key} < 0")
            alloc, pool = split_rows(by_product[p], np.repeat(keys[:, None], hours, axis=1))
            run.ledger.add(
                BOTH, "scope3", f"{facility.facility_id}/{product.name}", alloc,
                landlord_g=pool, inventory_g=by_product[p],
            )  # fmt: skip
        run.methods[f"facility:{facility.facility_id}"] = {
            "annual_co2e_t": facility.annual_co2e_t,
            "split_by": facility.split_by,
            "products": [plain(p) for p in facility.products],
            "rule": "even over hours, products by weight, then each product by its key "
            "(largest remainder); unused products to the landlord",
        }
