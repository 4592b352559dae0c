"""Park dispatch on SIP-PARK-1 (shared/reference/dispatch.md): zone-opt's matrix builder +
in-place rolling horizon against plain pyomo (the textbook formulation, pyomo's HiGHS
interface, rebuilt per window) and PyPSA 1.4 (``optimize`` / ``optimize_with_rolling_horizon``).

PyPSA does not install beside our pins (pandas 3, highspy 1.14), so it runs from its own
venv (``make bench-pypsa-venv`` creates ``.venv-pypsa``) in a subprocess; the script
reports its own setup + build + solve time with imports excluded after a 24-h warm-up,
as the reference measured, and that internal time is the figure in ``internal_s``; the
harness's wall time for PyPSA also includes starting Python and importing PyPSA (~4 s).
Without that venv the PyPSA contender is reported unavailable.

Summaries carry ``objective`` (compared across contenders to 1e-6 relative for LPs, the
gap for MILPs), ``highs_s`` (HiGHS's own time, ours) and ``internal_s``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.harness import Case, Contender, Summary, agree_on, suite
from zone_opt.optimise.dispatch import (
    DispatchOptions,
    DispatchState,
    Scenario,
    dispatch,
    load_scenario,
)
from zone_opt.optimise.dispatch.pyomo_model import solve_pyomo
from zone_opt.optimise.dispatch.solve import next_state

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "datasets" / "sip_park_1"
PYPSA_PY = ROOT / ".venv-pypsa" / "bin" / "python"


@dataclass(frozen=True)
class Instance:
    """One dispatch run every contender makes: ``hours`` from ``start``, in windows of
    ``rolling_h`` (None: one window), to the relative gap ``gap``."""

    scenario: Scenario
    start: str
    hours: float
    rolling_h: float | None
    gap: float


def _ours(inst: Instance, workers: int = 1) -> dict[str, float]:
    r = dispatch(
        inst.scenario,
        inst.start,
        inst.hours,
        rolling_h=inst.rolling_h,
        options=DispatchOptions(mip_rel_gap=inst.gap, workers=workers, binding=False),
    )
    return {
        "objective": r.objective_cny,
        "highs_s": r.solve_s,
        "build_s": r.build_s,
        "internal_s": r.wall_s,
        "overhead_s": r.wall_s - r.solve_s,
        "mip_gap": r.mip_gap,
        "windows": len(r.windows),
    }


def _pyomo(inst: Instance) -> dict[str, float]:
    """Plain pyomo: the textbook UC (start-up/shut-down binary), one model per window."""
    scenario, hours, rolling = inst.scenario, inst.hours, inst.rolling_h
    park = scenario.park
    step = rolling or hours
    done, total, build_s, solve_s = 0.0, 0.0, 0.0, 0.0
    state = DispatchState.initial(park, one_shot=rolling is None or rolling >= hours)
    t0 = pd.Timestamp(inst.start)
    while done < hours - 1e-9:
        h = min(step, hours - done)
        inputs = scenario.horizon(t0 + pd.Timedelta(hours=done), h)
        run = solve_pyomo(park, inputs, state, mip_rel_gap=inst.gap, plain=True)
        total += run.objective_cny
        build_s += run.build_s
        solve_s += run.solve_s
        m = run.model
        n = inputs.n_steps
        blocks = {f"{b.name}.soc": [m.soc[k, n - 1].value] for k, b in enumerate(park.batteries)}
        for k, c in enumerate(park.chps):
            blocks[f"{c.name}.fuel"] = [m.g[k, n - 1].value]
            if c.committable:
                blocks[f"{c.name}.on"] = [m.u[k, t].value for t in range(n)]
        state = next_state(park, None, blocks, state)  # type: ignore[arg-type]
        done += h
    return {"objective": total, "internal_s": build_s + solve_s, "build_s": build_s}


def _pypsa(inst: Instance) -> dict[str, float]:
    mode = "milp" if inst.scenario.park.is_mip else "lp"
    cmd = [
        str(PYPSA_PY),
        str(ROOT / "bench" / "peers" / "pypsa_dispatch.py"),
        str(DATA / "profiles_8760.csv"),
        mode,
        str(inst.start),
        str(int(inst.hours)),
        str(int(inst.rolling_h)) if inst.rolling_h else "-",
        str(inst.gap),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {"objective": data["objective_cny"], "internal_s": data["total_s"]}


def _summary(_inst: Instance, out: dict[str, float]) -> Summary:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()}


def _case(
    name: str,
    inst: Instance,
    *,
    pyomo: bool = True,
    pypsa: bool = True,
    parallel: bool = False,
    timeout_s: float = 600.0,
) -> Case:
    contenders = [
        Contender(
            "zone-opt dispatch", run=_ours, summarize=_summary, ours=True, timeout_s=timeout_s
        )
    ]
    if parallel:
        contenders.append(
            Contender(
                "zone-opt dispatch, 2 workers",
                run=lambda i: _ours(i, workers=2),
                summarize=_summary,
                timeout_s=timeout_s,
            )
        )
    if pyomo:
        contenders.append(
            Contender(
                "plain pyomo + HiGHS",
                run=_pyomo,
                summarize=_summary,
                requires=("pyomo",),
                timeout_s=timeout_s,
            )
        )
    if pypsa:
        contenders.append(
            Contender(
                "PyPSA 1.4 (linopy, HiGHS)",
                run=_pypsa,
                summarize=_summary,
                requires=("bench.peers.pypsa_venv",),
                timeout_s=timeout_s,
            )
        )
    rel = 1e-6 if not inst.scenario.park.is_mip else max(2 * inst.gap, 1e-6)
    return Case(
        name=name,
        make=lambda: inst,
        contenders=contenders,
        agree=agree_on("objective", rel_tol=rel),
        params={
            "start": inst.start,
            "hours": inst.hours,
            "rolling_h": inst.rolling_h,
            "mip_rel_gap": inst.gap,
            "python": sys.version.split()[0],
        },
    )


@suite("dispatch")
def dispatch_suite(size: str) -> list[Case]:
    """SIP-PARK-1 LP 24/168/8760 h, weekly rolling LP year, 168-h UC, rolling UC year."""
    lp = load_scenario(DATA / "lp.yaml")
    milp = load_scenario(DATA / "milp.yaml")
    # Instance(scenario, start, hours, rolling_h, gap)
    if size == "smoke":
        return [
            _case("lp-24h", Instance(lp, "2025-07-14", 24, None, 1e-6), pypsa=False),
            _case("roll-lp-72h-daily", Instance(lp, "2025-07-14", 72, 24, 1e-6), pypsa=False),
            _case("milp-24h", Instance(milp, "2025-07-14", 24, None, 1e-6), pypsa=False),
        ]
    return [
        _case("lp-24h", Instance(lp, "2025-07-14", 24, None, 1e-6)),
        _case("lp-168h", Instance(lp, "2025-07-14", 168, None, 1e-6)),
        _case("lp-8760h", Instance(lp, "2025-01-01", 8760, None, 1e-6)),
        _case("roll-lp-8760h-weekly", Instance(lp, "2025-01-01", 8760, 168, 1e-6), parallel=True),
        _case("milp-168h", Instance(milp, "2025-07-14", 168, None, 1e-6)),
        _case(
            "roll-milp-8760h-weekly-gap1e-4",
            Instance(milp, "2025-01-01", 8760, 168, 1e-4),
            pyomo=False,
            pypsa=False,
            parallel=True,
            timeout_s=900.0,
        ),
    ]
