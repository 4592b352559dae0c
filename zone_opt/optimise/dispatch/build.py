"""Vectorised assembly of the dispatch LP/MILP straight into a :class:`MatrixModel`.

The model is split in two so that a rolling horizon can update it in place:

* :func:`build_structure` fixes the columns, rows and the constraint matrix from the park
  and the horizon's shape (steps, day grouping, cyclic batteries). It is the same for every
  window of equal shape and is built once.
* :func:`fill` computes the data that changes between windows (column bounds, row bounds,
  costs) from the profiles and the carried :class:`DispatchState`. A :class:`HighsSolver`
  then takes only the entries that changed.

Every block of columns and rows has a traceable name (``"CHP1.fuel"``, ``"balance.electricity"``)
and is indexed by step. Formulation (per step t, duration dt hours; see the package docstring):

* electricity: Σ renewables + import - export + Σ η_e·g + Σ dis - Σ ch - Σ proc + shed_e = load
* heat: Σ η_h·g + Σ η_b·b - vent + shed_h = heat load
* battery: soc_t - (1-σdt)·soc_{t-1} - η_c·dt·ch_t + dt/η_d·dis_t = 0 (t = 0: = soc_init, or cyclic)
* process: Σ_{t in day d} dt·p_t = E·share_d, 0 <= p_t <= P·window_t
* CHP, not committable: -R·P·dt <= g_t - g_{t-1} <= R·P·dt
* CHP, committable (3-bin tight, only ``u`` integer): p_min·P·u <= g <= P·u;
  u_t - u_{t-1} = su_t - sd_t; Σ_{k<MU} su_{t-k} <= u_t; Σ_{k<MD} sd_{t-k} <= 1 - u_t;
  g_t - g_{t-1} <= R·P·dt·u_{t-1} + SU·P·(u_t - u_{t-1});
  g_t - g_{t-1} >= -R·P·dt·u_t - SD·P·(u_{t-1} - u_t)
* optional: carbon cap row, demand-charge peak column.

Complexity: O(steps x assets) time and memory; no Python loop over steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.dispatch.assets import Park
from zone_opt.optimise.dispatch.inputs import DispatchState, HorizonInputs
from zone_opt.optimise.solver import INF, MatrixModel

__all__ = ["Block", "ModelData", "Structure", "build", "build_structure", "fill"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Block:
    """A named run of consecutive columns or rows: ``start .. start + size``."""

    name: str
    start: int
    size: int

    @property
    def index(self) -> I64:
        return np.arange(self.start, self.start + self.size, dtype=np.int64)

    def at(self, t: int | I64) -> int | I64:
        return self.start + t


class _Alloc:
    def __init__(self) -> None:
        self.blocks: dict[str, Block] = {}
        self.total = 0

    def add(self, name: str, size: int) -> Block:
        block = Block(name, self.total, size)
        self.blocks[name] = block
        self.total += size
        return block


@dataclass
class _Coo:
    rows: list[I64] = field(default_factory=list)
    cols: list[I64] = field(default_factory=list)
    vals: list[F64] = field(default_factory=list)

    def add(self, rows: object, cols: object, vals: object) -> None:
        r, c, v = np.broadcast_arrays(
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )
        self.rows.append(r.ravel())
        self.cols.append(c.ravel())
        self.vals.append(v.ravel())


@dataclass(frozen=True)
class Structure:
    """The fixed part of a horizon's model: matrix, integrality and the named blocks."""

    park: Park
    n_steps: int
    dt_h: float
    cols: dict[str, Block]
    rows: dict[str, Block]
    model: MatrixModel
    """The matrix with placeholder bounds and costs; :func:`fill` supplies the real ones."""
    min_up_steps: tuple[int, ...]
    min_down_steps: tuple[int, ...]
    cyclic: tuple[bool, ...]

    @property
    def num_cols(self) -> int:
        return self.model.num_cols

    @property
    def num_rows(self) -> int:
        return self.model.num_rows

    def col(self, name: str) -> Block:
        return self.cols[name]

    def row(self, name: str) -> Block:
        return self.rows[name]

    def col_name(self, j: int) -> str:
        """``"block[t]"`` for column ``j`` (for diagnostics)."""
        return _name_of(self.cols, j)

    def row_name(self, i: int) -> str:
        return _name_of(self.rows, i)


def _name_of(blocks: dict[str, Block], k: int) -> str:
    for b in blocks.values():
        if b.start <= k < b.start + b.size:
            return f"{b.name}[{k - b.start}]"
    return f"#{k}"


@dataclass(frozen=True)
class ModelData:
    """The per-window data of a :class:`Structure`: bounds and costs, full length."""

    cost: F64
    col_lower: F64
    col_upper: F64
    row_lower: F64
    row_upper: F64


def _steps(hours: float, dt_h: float) -> int:
    return max(1, math.ceil(hours / dt_h - 1e-9))


def build_structure(park: Park, inputs: HorizonInputs, cyclic: tuple[bool, ...]) -> Structure:
    """Columns, rows and the constraint matrix for ``park`` over ``inputs``' shape.

    O(steps x assets). The result depends only on ``inputs.structure_key()`` and ``cyclic``.
    """
    n, dt = inputs.n_steps, inputs.dt_h
    t = np.arange(n, dtype=np.int64)
    cols, rows, coo = _Alloc(), _Alloc(), _Coo()
    integer_blocks: list[Block] = []

    ren = [cols.add(f"{r.name}.output", n) for r in park.renewables]
    imp = cols.add("grid.import", n)
    exp = cols.add("grid.export", n)
    fuel = [cols.add(f"{c.name}.fuel", n) for c in park.chps]
    boil = [cols.add(f"{b.name}.fuel", n) for b in park.boilers]
    ch = [cols.add(f"{b.name}.charge", n) for b in park.batteries]
    dis = [cols.add(f"{b.name}.discharge", n) for b in park.batteries]
    soc = [cols.add(f"{b.name}.soc", n) for b in park.batteries]
    proc = [cols.add(f"{p.name}.power", n) for p in park.processes]
    shed_e = cols.add("unserved.electricity", n)
    shed_h = cols.add("unserved.heat", n)
    vent = cols.add("heat.vent", n)
    on: dict[int, Block] = {}
    su: dict[int, Block] = {}
    sd: dict[int, Block] = {}
    for k, c in enumerate(park.chps):
        if c.committable:
            on[k] = cols.add(f"{c.name}.on", n)
            su[k] = cols.add(f"{c.name}.startup", n)
            sd[k] = cols.add(f"{c.name}.shutdown", n)
            integer_blocks.append(on[k])
    peak = cols.add("grid.peak", 1) if park.grid.tariff.demand_charge_cny_per_mw > 0 else None

    # Balances.
    bal_e = rows.add("balance.electricity", n)
    for b in ren:
        coo.add(bal_e.start + t, b.start + t, 1.0)
    coo.add(bal_e.start + t, imp.start + t, 1.0)
    coo.add(bal_e.start + t, exp.start + t, -1.0)
    for k, c in enumerate(park.chps):
        coo.add(bal_e.start + t, fuel[k].start + t, c.eta_electric)
    for k in range(len(park.batteries)):
        coo.add(bal_e.start + t, dis[k].start + t, 1.0)
        coo.add(bal_e.start + t, ch[k].start + t, -1.0)
    for b in proc:
        coo.add(bal_e.start + t, b.start + t, -1.0)
    coo.add(bal_e.start + t, shed_e.start + t, 1.0)

    bal_h = rows.add("balance.heat", n)
    for k, c in enumerate(park.chps):
        if c.eta_heat:
            coo.add(bal_h.start + t, fuel[k].start + t, c.eta_heat)
    for k, bo in enumerate(park.boilers):
        coo.add(bal_h.start + t, boil[k].start + t, bo.eta)
    coo.add(bal_h.start + t, vent.start + t, -1.0)
    coo.add(bal_h.start + t, shed_h.start + t, 1.0)

    # Batteries.
    for k, bat in enumerate(park.batteries):
        r = rows.add(f"{bat.name}.soc", n)
        coo.add(r.start + t, soc[k].start + t, 1.0)
        coo.add(r.start + t, ch[k].start + t, -bat.eta_charge * dt)
        coo.add(r.start + t, dis[k].start + t, dt / bat.eta_discharge)
        keep = 1.0 - bat.standing_loss_per_h * dt
        coo.add(r.start + t[1:], soc[k].start + t[:-1], -keep)
        if cyclic[k]:
            coo.add(r.start, soc[k].start + n - 1, -keep)

    # Shiftable processes: one energy row per calendar day in the horizon.
    for k, p in enumerate(park.processes):
        r = rows.add(f"{p.name}.energy", inputs.n_periods)
        coo.add(r.start + inputs.period, proc[k].start + t, dt)

    # CHPs.
    mu_steps: list[int] = []
    md_steps: list[int] = []
    for k, c in enumerate(park.chps):
        g = fuel[k]
        cap = c.fuel_max_mw
        mu, md = _steps(c.min_up_h, dt), _steps(c.min_down_h, dt)
        mu_steps.append(mu)
        md_steps.append(md)
        if not c.committable:
            if c.ramp_pu_per_h is not None:
                r = rows.add(f"{c.name}.ramp", n)
                coo.add(r.start + t, g.start + t, 1.0)
                coo.add(r.start + t[1:], g.start + t[:-1], -1.0)
            continue
        u, s_up, s_dn = on[k], su[k], sd[k]
        r = rows.add(f"{c.name}.capacity_min", n)  # g - pmin P u >= 0
        coo.add(r.start + t, g.start + t, 1.0)
        coo.add(r.start + t, u.start + t, -c.p_min_pu * cap)
        r = rows.add(f"{c.name}.capacity_max", n)  # g - P u <= 0
        coo.add(r.start + t, g.start + t, 1.0)
        coo.add(r.start + t, u.start + t, -cap)
        r = rows.add(f"{c.name}.transition", n)  # u_t - u_{t-1} - su_t + sd_t = 0
        coo.add(r.start + t, u.start + t, 1.0)
        coo.add(r.start + t[1:], u.start + t[:-1], -1.0)
        coo.add(r.start + t, s_up.start + t, -1.0)
        coo.add(r.start + t, s_dn.start + t, 1.0)
        r = rows.add(f"{c.name}.min_up", n)  # Σ_{k<MU} su_{t-k} - u_t <= -hist
        lag_t, lag_s = _lags(n, mu)
        coo.add(r.start + lag_t, s_up.start + lag_s, 1.0)
        coo.add(r.start + t, u.start + t, -1.0)
        r = rows.add(f"{c.name}.min_down", n)  # Σ_{k<MD} sd_{t-k} + u_t <= 1 - hist
        lag_t, lag_s = _lags(n, md)
        coo.add(r.start + lag_t, s_dn.start + lag_s, 1.0)
        coo.add(r.start + t, u.start + t, 1.0)
        if c.ramp_pu_per_h is not None:
            ramp = c.ramp_pu_per_h * cap * dt
            sup, sdn = c.startup_ramp_pu * cap, c.shutdown_ramp_pu * cap
            r = rows.add(f"{c.name}.ramp_up", n)
            # g_t - g_{t-1} - SU u_t + (SU - R) u_{t-1} <= 0
            coo.add(r.start + t, g.start + t, 1.0)
            coo.add(r.start + t[1:], g.start + t[:-1], -1.0)
            coo.add(r.start + t, u.start + t, -sup)
            coo.add(r.start + t[1:], u.start + t[:-1], sup - ramp)
            r = rows.add(f"{c.name}.ramp_down", n)
            # g_t - g_{t-1} + (R - SD) u_t + SD u_{t-1} >= 0
            coo.add(r.start + t, g.start + t, 1.0)
            coo.add(r.start + t[1:], g.start + t[:-1], -1.0)
            coo.add(r.start + t, u.start + t, ramp - sdn)
            coo.add(r.start + t[1:], u.start + t[:-1], sdn)

    if inputs.carbon_cap_t is not None:
        r = rows.add("carbon.cap", 1)
        coo.add(r.start, imp.start + t, 0.0)  # coefficients are data: intensity x dt
        for k in range(len(park.chps)):
            coo.add(r.start, fuel[k].start + t, park.chps[k].emission_t_per_mwh * dt)
        for k in range(len(park.boilers)):
            coo.add(r.start, boil[k].start + t, park.boilers[k].emission_t_per_mwh * dt)
    if peak is not None:
        r = rows.add("grid.peak", n)  # import_t - peak <= 0
        coo.add(r.start + t, imp.start + t, 1.0)
        coo.add(r.start + t, peak.start, -1.0)

    integer = None
    if integer_blocks:
        integer = np.zeros(cols.total, dtype=bool)
        for b in integer_blocks:
            integer[b.start : b.start + b.size] = True
    model = MatrixModel.from_coo(
        (np.concatenate(coo.rows), np.concatenate(coo.cols), np.concatenate(coo.vals)),
        cost=np.zeros(cols.total),
        col_bounds=(np.zeros(cols.total), np.full(cols.total, INF)),
        row_bounds=(np.full(rows.total, -INF), np.full(rows.total, INF)),
        integer=integer,
    )
    return Structure(
        park=park,
        n_steps=n,
        dt_h=dt,
        cols=cols.blocks,
        rows=rows.blocks,
        model=model,
        min_up_steps=tuple(mu_steps),
        min_down_steps=tuple(md_steps),
        cyclic=cyclic,
    )


def _lags(n: int, width: int) -> tuple[I64, I64]:
    """Pairs (t, t-k) for k < width and t-k >= 0: the terms of a rolling window sum."""
    k = np.arange(min(width, n), dtype=np.int64)
    t = np.arange(n, dtype=np.int64)
    tt = np.repeat(t, k.size)
    ss = tt - np.tile(k, n)
    keep = ss >= 0
    return tt[keep], ss[keep]


def carbon_cap_coefficients(structure: Structure, inputs: HorizonInputs) -> tuple[I64, F64]:
    """Column indices and coefficients of the import terms in the carbon-cap row."""
    imp = structure.col("grid.import")
    return imp.index, inputs.intensity_t_per_mwh * inputs.dt_h


def fill(structure: Structure, inputs: HorizonInputs, state: DispatchState) -> ModelData:
    """Bounds and costs of ``structure`` for ``inputs`` starting from ``state``. O(columns)."""
    park, n, dt = structure.park, structure.n_steps, structure.dt_h
    cost = np.zeros(structure.num_cols)
    lo = np.zeros(structure.num_cols)
    hi = np.full(structure.num_cols, INF)
    rlo = np.full(structure.num_rows, -INF)
    rhi = np.full(structure.num_rows, INF)

    def put(arr: F64, name: str, values: F64 | float) -> None:
        b = structure.cols[name]
        arr[b.start : b.start + b.size] = values

    def rput(name: str, lower: F64 | float, upper: F64 | float) -> None:
        b = structure.rows[name]
        rlo[b.start : b.start + b.size] = lower
        rhi[b.start : b.start + b.size] = upper

    cp = park.carbon.price_cny_per_t
    for k, r in enumerate(park.renewables):
        put(hi, f"{r.name}.output", r.capacity_mw * inputs.cf[k])
    put(hi, "grid.import", park.grid.import_max_mw)
    put(cost, "grid.import", dt * (inputs.price_cny_per_mwh + cp * inputs.intensity_t_per_mwh))
    put(hi, "grid.export", park.grid.export_max_mw)
    put(cost, "grid.export", -dt * inputs.export_price_cny_per_mwh)
    for c in park.chps:
        put(hi, f"{c.name}.fuel", c.fuel_max_mw)
        put(cost, f"{c.name}.fuel", dt * (c.fuel_cost_cny_per_mwh + cp * c.emission_t_per_mwh))
    for bo in park.boilers:
        put(hi, f"{bo.name}.fuel", bo.fuel_max_mw)
        put(cost, f"{bo.name}.fuel", dt * (bo.fuel_cost_cny_per_mwh + cp * bo.emission_t_per_mwh))
    for k, b in enumerate(park.batteries):
        put(hi, f"{b.name}.charge", b.charge_mw)
        put(hi, f"{b.name}.discharge", b.discharge_mw)
        put(cost, f"{b.name}.discharge", dt * b.discharge_cost_cny_per_mwh)
        put(lo, f"{b.name}.soc", b.soc_min_mwh)
        put(hi, f"{b.name}.soc", b.soc_upper_mwh)
        if b.end_soc_min_mwh is not None:
            lo[structure.cols[f"{b.name}.soc"].start + n - 1] = max(
                b.soc_min_mwh, b.end_soc_min_mwh
            )
        row = structure.rows[f"{b.name}.soc"]
        rlo[row.start : row.start + n] = 0.0
        rhi[row.start : row.start + n] = 0.0
        if not structure.cyclic[k]:
            init = state.soc_mwh[k] * (1.0 - b.standing_loss_per_h * dt)
            rlo[row.start] = rhi[row.start] = init
    for k, p in enumerate(park.processes):
        put(hi, f"{p.name}.power", p.power_mw * inputs.window[k])
        energy = p.energy_mwh_per_day * inputs.period_share[k]
        rput(f"{p.name}.energy", energy, energy)
    s = park.slack
    put(hi, "unserved.electricity", s.unserved_max_mw)
    put(hi, "unserved.heat", s.unserved_max_mw)
    put(cost, "unserved.electricity", dt * s.unserved_cost_cny_per_mwh)
    put(cost, "unserved.heat", dt * s.unserved_cost_cny_per_mwh)
    put(hi, "heat.vent", s.vent_max_mwth)
    put(cost, "heat.vent", dt * s.vent_cost_cny_per_mwh)
    rput("balance.electricity", inputs.load_mw, inputs.load_mw)
    rput("balance.heat", inputs.heat_load_mwth, inputs.heat_load_mwth)

    for k, c in enumerate(park.chps):
        unit = state.units[k]
        cap = c.fuel_max_mw
        u_prev = 1.0 if unit.is_on else 0.0
        g_prev = unit.output_mw_fuel if unit.is_on else 0.0
        if not c.committable:
            if c.ramp_pu_per_h is not None:
                ramp = c.ramp_pu_per_h * cap * dt
                rput(f"{c.name}.ramp", -ramp, ramp)
                r0 = structure.rows[f"{c.name}.ramp"].start
                if unit.output_mw_fuel is None:
                    rlo[r0], rhi[r0] = -INF, INF
                else:
                    rlo[r0], rhi[r0] = unit.output_mw_fuel - ramp, unit.output_mw_fuel + ramp
            continue
        put(hi, f"{c.name}.on", 1.0)
        put(hi, f"{c.name}.startup", 1.0)
        put(hi, f"{c.name}.shutdown", 1.0)
        put(cost, f"{c.name}.startup", c.startup_cost_cny)
        put(cost, f"{c.name}.shutdown", c.shutdown_cost_cny)
        rput(f"{c.name}.capacity_min", 0.0, INF)
        rput(f"{c.name}.capacity_max", -INF, 0.0)
        rput(f"{c.name}.transition", 0.0, 0.0)
        r0 = structure.rows[f"{c.name}.transition"].start
        rlo[r0] = rhi[r0] = u_prev
        t = np.arange(n)
        mu, md = structure.min_up_steps[k], structure.min_down_steps[k]
        hist_up = (t < mu - unit.steps_in_state) if unit.is_on else np.zeros(n, dtype=bool)
        hist_dn = (t < md - unit.steps_in_state) if not unit.is_on else np.zeros(n, dtype=bool)
        rput(f"{c.name}.min_up", -INF, -hist_up.astype(np.float64))
        rput(f"{c.name}.min_down", -INF, 1.0 - hist_dn.astype(np.float64))
        if c.ramp_pu_per_h is not None:
            ramp = c.ramp_pu_per_h * cap * dt
            sup, sdn = c.startup_ramp_pu * cap, c.shutdown_ramp_pu * cap
            rput(f"{c.name}.ramp_up", -INF, 0.0)
            rput(f"{c.name}.ramp_down", 0.0, INF)
            up0 = structure.rows[f"{c.name}.ramp_up"].start
            dn0 = structure.rows[f"{c.name}.ramp_down"].start
            if g_prev is None:
                rhi[up0], rlo[dn0] = INF, -INF
            else:
                rhi[up0] = g_prev + u_prev * (ramp - sup)
                rlo[dn0] = g_prev - sdn * u_prev

    if "carbon.cap" in structure.rows and inputs.carbon_cap_t is not None:
        rput("carbon.cap", -INF, inputs.carbon_cap_t)
    if "grid.peak" in structure.rows:
        rput("grid.peak", -INF, 0.0)
        put(cost, "grid.peak", park.grid.tariff.demand_charge_cny_per_mw)
    return ModelData(cost=cost, col_lower=lo, col_upper=hi, row_lower=rlo, row_upper=rhi)


def build(park: Park, inputs: HorizonInputs, state: DispatchState) -> tuple[Structure, MatrixModel]:
    """Structure and filled model for one horizon (see :func:`build_structure`, :func:`fill`)."""
    structure = build_structure(park, inputs, state.cyclic or (False,) * len(park.batteries))
    data = fill(structure, inputs, state)
    m = structure.model
    model = MatrixModel(
        cost=data.cost,
        col_lower=data.col_lower,
        col_upper=data.col_upper,
        row_lower=data.row_lower,
        row_upper=data.row_upper,
        a_start=m.a_start,
        a_index=m.a_index,
        a_value=_with_cap(structure, inputs),
        integer=m.integer,
    )
    return structure, model


def _with_cap(structure: Structure, inputs: HorizonInputs) -> F64:
    """The matrix values with the carbon-cap row's import coefficients (data) filled in."""
    m = structure.model
    if "carbon.cap" not in structure.rows:
        return m.a_value
    values = m.a_value.copy()
    row = structure.rows["carbon.cap"].start
    imp = structure.cols["grid.import"]
    for t in range(structure.n_steps):
        j = imp.start + t
        seg = slice(int(m.a_start[j]), int(m.a_start[j + 1]))
        hit = np.flatnonzero(m.a_index[seg] == row)
        if hit.size:
            values[seg.start + int(hit[0])] = inputs.intensity_t_per_mwh[t] * inputs.dt_h
    return values
