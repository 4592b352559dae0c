"""SIP-PARK-1 in PyPSA 1.4 (run in its own venv: it does not install beside our pins).

The mapping of shared/reference/dispatch.md §5: generators for PV, wind, grid import and
export, unserved energy and heat venting and the gas supply; CHPs as three-bus Links
(committable in the MILP); the boiler a Link; the battery a StorageUnit; the shiftable
process a Link into a Store emptied by a 120 MWh Load at 22:00 each day.

    python pypsa_dispatch.py PROFILES.csv MODE START HOURS [ROLLING]   (MODE: lp | milp)

prints one JSON line: objective_cny (recomputed from the dispatch, start-ups included),
timings (setup_s, solve_s incl. build, total_s; imports excluded, a 24-h warm-up first).
"""

from __future__ import annotations

import json
import logging
import sys
import time

import numpy as np
import pandas as pd
import pypsa  # type: ignore[import-not-found]

logging.disable(logging.WARNING)

CHPS = (
    # name, p_el, eta_e, eta_h, p_min, up, down, start-up cost, ramp
    ("CHP1", 30.0, 0.38, 0.45, 0.5, 4, 4, 30000.0, 0.5),
    ("CHP2", 15.0, 0.36, 0.47, 0.4, 3, 3, 12000.0, 0.6),
)


def network(prof: pd.DataFrame, mode: str, rolling: bool) -> pypsa.Network:
    n = pypsa.Network()
    n.set_snapshots(prof.index)
    for bus in ("elec", "heat", "gas", "proc"):
        n.add("Bus", bus)
    n.add("Generator", "pv", bus="elec", p_nom=120.0, p_max_pu=prof["pv_cf"])
    n.add("Generator", "wind", bus="elec", p_nom=20.0, p_max_pu=prof["wind_cf"])
    n.add(
        "Generator",
        "grid_import",
        bus="elec",
        p_nom=80.0,
        marginal_cost=prof["price"] + 100.0 * prof["ci"],
    )
    n.add(
        "Generator",
        "grid_export",
        bus="elec",
        p_nom=30.0,
        p_min_pu=-1.0,
        p_max_pu=0.0,
        marginal_cost=200.0,
    )
    n.add("Generator", "shed_e", bus="elec", p_nom=1000.0, marginal_cost=20000.0)
    n.add("Generator", "shed_h", bus="heat", p_nom=1000.0, marginal_cost=20000.0)
    n.add("Generator", "heat_vent", bus="heat", p_nom=1000.0, p_min_pu=-1.0, p_max_pu=0.0)
    n.add("Generator", "gas_supply", bus="gas", p_nom=1e5, marginal_cost=300.0 + 100.0 * 0.202)
    for name, p_el, eta_e, eta_h, p_min, up, down, su, ramp in CHPS:
        kw: dict[str, object] = {}
        if mode == "milp":
            kw = {
                "committable": True,
                "p_min_pu": p_min,
                "min_up_time": up,
                "min_down_time": down,
                "start_up_cost": su,
                "ramp_limit_start_up": 1.0,
                "ramp_limit_shut_down": 1.0,
                "up_time_before": 0,
                "down_time_before": 24,
            }
        n.add(
            "Link",
            name,
            bus0="gas",
            bus1="elec",
            bus2="heat",
            efficiency=eta_e,
            efficiency2=eta_h,
            p_nom=p_el / eta_e,
            ramp_limit_up=ramp,
            ramp_limit_down=ramp,
            **kw,
        )
    n.add("Link", "boiler", bus0="gas", bus1="heat", efficiency=0.92, p_nom=40.0 / 0.92)
    n.add(
        "StorageUnit",
        "bess",
        bus="elec",
        p_nom=50.0,
        max_hours=2.0,
        efficiency_store=0.95,
        efficiency_dispatch=0.95,
        marginal_cost=20.0,
        cyclic_state_of_charge=not rolling,
        state_of_charge_initial=50.0,
    )
    n.add("Link", "proc", bus0="elec", bus1="proc", p_nom=20.0, p_max_pu=prof["proc_window"])
    n.add("Store", "proc_store", bus="proc", e_nom=120.0, e_cyclic=True)
    n.add(
        "Load",
        "proc_load",
        bus="proc",
        p_set=pd.Series(np.where(prof.index.hour == 22, 120.0, 0.0), index=prof.index),
    )
    n.add("Load", "load_e", bus="elec", p_set=prof["load_e"])
    n.add("Load", "load_h", bus="heat", p_set=prof["load_h"])
    return n


def objective(n: pypsa.Network) -> float:
    """Total cost from the dispatch: marginal costs, battery dispatch cost, start-ups."""
    g = n.generators_t.p
    cost = float((g * n.get_switchable_as_dense("Generator", "marginal_cost")).sum().sum())
    cost += float(n.storage_units_t.p_dispatch["bess"].sum() * 20.0)
    if not n.links_t.status.empty:
        for name, *_rest in CHPS:
            if name in n.links_t.status:
                s = n.links_t.status[name].round().to_numpy()
                starts = np.diff(np.concatenate([[0.0], s])).clip(min=0).sum()
                cost += float(starts * n.links.at[name, "start_up_cost"])
    return cost


def run(
    prof: pd.DataFrame, mode: str, start: str, hours: int, *, rolling: int | None, gap: float
) -> dict[str, float]:
    sl = prof.loc[pd.Timestamp(start) :].iloc[:hours]
    opts = {"threads": 1, "random_seed": 1, "mip_rel_gap": gap, "output_flag": False}
    t0 = time.perf_counter()
    n = network(sl, mode, rolling is not None)
    t1 = time.perf_counter()
    if rolling is None:
        n.optimize(solver_name="highs", solver_options=opts)
    else:
        n.optimize.optimize_with_rolling_horizon(
            horizon=rolling, overlap=0, solver_name="highs", solver_options=opts
        )
    t2 = time.perf_counter()
    return {
        "objective_cny": objective(n),
        "setup_s": t1 - t0,
        "solve_s": t2 - t1,
        "total_s": t2 - t0,
    }


def main() -> None:
    path, mode, start, hours = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rolling = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    gap = float(sys.argv[6]) if len(sys.argv) > 6 else 1e-6
    prof = pd.read_csv(path, index_col=0, parse_dates=[0])
    run(prof, mode, "2025-07-14", 24, rolling=None, gap=gap)  # warm-up, as in the reference
    print(json.dumps(run(prof, mode, start, hours, rolling=rolling, gap=gap)))


if __name__ == "__main__":
    main()
