"""The dispatch LP/MILP's shape: its columns, rows and constraint matrix, vectorised.

:func:`build_structure` fixes the columns, rows and the constraint matrix from the park and
the horizon's shape (steps, day grouping, cyclic batteries). It is the same for every window
of equal shape and is built once; :mod:`zone_opt.optimise.dispatch.build` fills the numbers
that change between windows.

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

from zone_opt.optimise.dispatch.assets import Chp, Park
from zone_opt.optimise.dispatch.inputs import HorizonInputs
from zone_opt.optimise.solver import INF, MatrixModel

__all__ = ["Block", "ModelData", "Structure", "build_structure"]

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


@dataclass(frozen=True)
class _Columns:
    """Every block of columns, in the model's column order."""

    renewables: list[Block]
    grid_import: Block
    grid_export: Block
    chp_fuel: list[Block]
    boiler_fuel: list[Block]
    charge: list[Block]
    discharge: list[Block]
    soc: list[Block]
    process: list[Block]
    unserved_electricity: Block
    unserved_heat: Block
    vent: Block
    on: dict[int, Block]
    """Commitment columns (``on``, ``startup``, ``shutdown``) of the committable CHPs, by index."""
    startup: dict[int, Block]
    shutdown: dict[int, Block]
    peak: Block | None


@dataclass
class _Rows:
    """The rows of a structure being built: their blocks, the matrix triplets, the steps."""

    alloc: _Alloc
    coo: _Coo
    t: I64
    dt_h: float

    def add(self, name: str, size: int) -> Block:
        return self.alloc.add(name, size)


def build_structure(park: Park, inputs: HorizonInputs, cyclic: tuple[bool, ...]) -> Structure:
    """Columns, rows and the constraint matrix for ``park`` over ``inputs``' shape.

    O(steps x assets). The result depends only on ``inputs.structure_key()`` and ``cyclic``.
    """
    n = inputs.n_steps
    alloc = _Alloc()
    c = _columns(park, n, alloc)
    rows = _Rows(_Alloc(), _Coo(), np.arange(n, dtype=np.int64), inputs.dt_h)
    _electricity_balance(park, c, rows)
    _heat_balance(park, c, rows)
    _battery_rows(park, c, rows, cyclic)
    _process_rows(park, c, rows, inputs)
    mu_steps, md_steps = _chp_rows(park, c, rows)
    if inputs.carbon_cap_t is not None:
        _carbon_cap_row(park, c, rows)
    if c.peak is not None:
        _peak_rows(c.grid_import, c.peak, rows)
    return Structure(
        park=park,
        n_steps=n,
        dt_h=inputs.dt_h,
        cols=alloc.blocks,
        rows=rows.alloc.blocks,
        model=_placeholder_model(alloc.total, rows, list(c.on.values())),
        min_up_steps=mu_steps,
        min_down_steps=md_steps,
        cyclic=cyclic,
    )


def _columns(park: Park, n: int, cols: _Alloc) -> _Columns:
    """Allocate every column block of ``park`` over ``n`` steps."""
    renewables = [cols.add(f"{r.name}.output", n) for r in park.renewables]
    grid_import = cols.add("grid.import", n)
    grid_export = cols.add("grid.export", n)
    chp_fuel = [cols.add(f"{c.name}.fuel", n) for c in park.chps]
    boiler_fuel = [cols.add(f"{b.name}.fuel", n) for b in park.boilers]
    charge = [cols.add(f"{b.name}.charge", n) for b in park.batteries]
    discharge = [cols.add(f"{b.name}.discharge", n) for b in park.batteries]
    soc = [cols.add(f"{b.name}.soc", n) for b in park.batteries]
    process = [cols.add(f"{p.name}.power", n) for p in park.processes]
    unserved_electricity = cols.add("unserved.electricity", n)
    unserved_heat = cols.add("unserved.heat", n)
    vent = cols.add("heat.vent", n)
    on: dict[int, Block] = {}
    startup: dict[int, Block] = {}
    shutdown: dict[int, Block] = {}
    for k, c in enumerate(park.chps):
        if c.committable:
            on[k] = cols.add(f"{c.name}.on", n)
            startup[k] = cols.add(f"{c.name}.startup", n)
            shutdown[k] = cols.add(f"{c.name}.shutdown", n)
    peak = cols.add("grid.peak", 1) if park.grid.tariff.demand_charge_cny_per_mw > 0 else None
    return _Columns(
        renewables=renewables,
        grid_import=grid_import,
        grid_export=grid_export,
        chp_fuel=chp_fuel,
        boiler_fuel=boiler_fuel,
        charge=charge,
        discharge=discharge,
        soc=soc,
        process=process,
        unserved_electricity=unserved_electricity,
        unserved_heat=unserved_heat,
        vent=vent,
        on=on,
        startup=startup,
        shutdown=shutdown,
        peak=peak,
    )


def _electricity_balance(park: Park, c: _Columns, rows: _Rows) -> None:
    """Σ renewables + import - export + Σ η_e·g + Σ (dis - ch) - Σ proc + shed_e = load."""
    t, coo = rows.t, rows.coo
    r = rows.add("balance.electricity", t.size)
    for b in c.renewables:
        coo.add(r.start + t, b.start + t, 1.0)
    coo.add(r.start + t, c.grid_import.start + t, 1.0)
    coo.add(r.start + t, c.grid_export.start + t, -1.0)
    for k, chp in enumerate(park.chps):
        coo.add(r.start + t, c.chp_fuel[k].start + t, chp.eta_electric)
    for k in range(len(park.batteries)):
        coo.add(r.start + t, c.discharge[k].start + t, 1.0)
        coo.add(r.start + t, c.charge[k].start + t, -1.0)
    for b in c.process:
        coo.add(r.start + t, b.start + t, -1.0)
    coo.add(r.start + t, c.unserved_electricity.start + t, 1.0)


def _heat_balance(park: Park, c: _Columns, rows: _Rows) -> None:
    """Σ η_h·g + Σ η_b·b - vent + shed_h = heat load."""
    t, coo = rows.t, rows.coo
    r = rows.add("balance.heat", t.size)
    for k, chp in enumerate(park.chps):
        if chp.eta_heat:
            coo.add(r.start + t, c.chp_fuel[k].start + t, chp.eta_heat)
    for k, bo in enumerate(park.boilers):
        coo.add(r.start + t, c.boiler_fuel[k].start + t, bo.eta)
    coo.add(r.start + t, c.vent.start + t, -1.0)
    coo.add(r.start + t, c.unserved_heat.start + t, 1.0)


def _battery_rows(park: Park, c: _Columns, rows: _Rows, cyclic: tuple[bool, ...]) -> None:
    """soc_t - (1-σdt)·soc_{t-1} - η_c·dt·ch_t + dt/η_d·dis_t = 0 (the first row's right-hand
    side is data; a cyclic battery's first row takes the last step's soc instead)."""
    t, coo, dt = rows.t, rows.coo, rows.dt_h
    n = t.size
    for k, bat in enumerate(park.batteries):
        r = rows.add(f"{bat.name}.soc", n)
        soc = c.soc[k]
        coo.add(r.start + t, soc.start + t, 1.0)
        coo.add(r.start + t, c.charge[k].start + t, -bat.eta_charge * dt)
        coo.add(r.start + t, c.discharge[k].start + t, dt / bat.eta_discharge)
        keep = 1.0 - bat.standing_loss_per_h * dt
        coo.add(r.start + t[1:], soc.start + t[:-1], -keep)
        if cyclic[k]:
            coo.add(r.start, soc.start + n - 1, -keep)


def _process_rows(park: Park, c: _Columns, rows: _Rows, inputs: HorizonInputs) -> None:
    """Shiftable processes: one energy row per calendar day in the horizon."""
    t = rows.t
    for k, p in enumerate(park.processes):
        r = rows.add(f"{p.name}.energy", inputs.n_periods)
        rows.coo.add(r.start + inputs.period, c.process[k].start + t, rows.dt_h)


def _chp_rows(park: Park, c: _Columns, rows: _Rows) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Ramp rows of the free-running CHPs, unit commitment rows of the committable ones.

    Returns each CHP's minimum up and down time in steps.
    """
    mu_steps: list[int] = []
    md_steps: list[int] = []
    for k, chp in enumerate(park.chps):
        mu_steps.append(_steps(chp.min_up_h, rows.dt_h))
        md_steps.append(_steps(chp.min_down_h, rows.dt_h))
        if not chp.committable:
            if chp.ramp_pu_per_h is not None:
                _ramp_rows(chp.name, c.chp_fuel[k], rows)
            continue
        _commitment_rows(chp, k, c, rows, (mu_steps[-1], md_steps[-1]))
        if chp.ramp_pu_per_h is not None:
            ramp_mw = chp.ramp_pu_per_h * chp.fuel_max_mw * rows.dt_h
            _commitment_ramp_rows(chp, ramp_mw, c.chp_fuel[k], c.on[k], rows)
    return tuple(mu_steps), tuple(md_steps)


def _ramp_rows(name: str, g: Block, rows: _Rows) -> None:
    """-R·P·dt <= g_t - g_{t-1} <= R·P·dt (bounds are data)."""
    t, coo = rows.t, rows.coo
    r = rows.add(f"{name}.ramp", t.size)
    coo.add(r.start + t, g.start + t, 1.0)
    coo.add(r.start + t[1:], g.start + t[:-1], -1.0)


def _commitment_rows(
    chp: Chp, k: int, c: _Columns, rows: _Rows, min_steps: tuple[int, int]
) -> None:
    """3-bin unit commitment: capacity, transition, minimum up and down time."""
    t, coo, n = rows.t, rows.coo, rows.t.size
    g, u, s_up, s_dn = c.chp_fuel[k], c.on[k], c.startup[k], c.shutdown[k]
    cap = chp.fuel_max_mw
    mu, md = min_steps
    r = rows.add(f"{chp.name}.capacity_min", n)  # g - pmin P u >= 0
    coo.add(r.start + t, g.start + t, 1.0)
    coo.add(r.start + t, u.start + t, -chp.p_min_pu * cap)
    r = rows.add(f"{chp.name}.capacity_max", n)  # g - P u <= 0
    coo.add(r.start + t, g.start + t, 1.0)
    coo.add(r.start + t, u.start + t, -cap)
    r = rows.add(f"{chp.name}.transition", n)  # u_t - u_{t-1} - su_t + sd_t = 0
    coo.add(r.start + t, u.start + t, 1.0)
    coo.add(r.start + t[1:], u.start + t[:-1], -1.0)
    coo.add(r.start + t, s_up.start + t, -1.0)
    coo.add(r.start + t, s_dn.start + t, 1.0)
    r = rows.add(f"{chp.name}.min_up", n)  # Σ_{k<MU} su_{t-k} - u_t <= -hist
    lag_t, lag_s = _lags(n, mu)
    coo.add(r.start + lag_t, s_up.start + lag_s, 1.0)
    coo.add(r.start + t, u.start + t, -1.0)
    r = rows.add(f"{chp.name}.min_down", n)  # Σ_{k<MD} sd_{t-k} + u_t <= 1 - hist
    lag_t, lag_s = _lags(n, md)
    coo.add(r.start + lag_t, s_dn.start + lag_s, 1.0)
    coo.add(r.start + t, u.start + t, 1.0)


def _commitment_ramp_rows(chp: Chp, ramp_mw: float, g: Block, u: Block, rows: _Rows) -> None:
    """Ramps of a committable CHP (``ramp_mw`` per step), with start-up and shut-down ramps."""
    t, coo, n = rows.t, rows.coo, rows.t.size
    cap, ramp = chp.fuel_max_mw, ramp_mw
    sup, sdn = chp.startup_ramp_pu * cap, chp.shutdown_ramp_pu * cap
    r = rows.add(f"{chp.name}.ramp_up", n)
    # g_t - g_{t-1} - SU u_t + (SU - R) u_{t-1} <= 0
    coo.add(r.start + t, g.start + t, 1.0)
    coo.add(r.start + t[1:], g.start + t[:-1], -1.0)
    coo.add(r.start + t, u.start + t, -sup)
    coo.add(r.start + t[1:], u.start + t[:-1], sup - ramp)
    r = rows.add(f"{chp.name}.ramp_down", n)
    # g_t - g_{t-1} + (R - SD) u_t + SD u_{t-1} >= 0
    coo.add(r.start + t, g.start + t, 1.0)
    coo.add(r.start + t[1:], g.start + t[:-1], -1.0)
    coo.add(r.start + t, u.start + t, ramp - sdn)
    coo.add(r.start + t[1:], u.start + t[:-1], sdn)


def _carbon_cap_row(park: Park, c: _Columns, rows: _Rows) -> None:
    """Σ_t dt·(intensity_t·import_t + Σ e·g_t + Σ e·b_t) <= cap (import coefficients are data)."""
    t, coo, dt = rows.t, rows.coo, rows.dt_h
    r = rows.add("carbon.cap", 1)
    coo.add(r.start, c.grid_import.start + t, 0.0)  # coefficients are data: intensity x dt
    for k in range(len(park.chps)):
        coo.add(r.start, c.chp_fuel[k].start + t, park.chps[k].emission_t_per_mwh * dt)
    for k in range(len(park.boilers)):
        coo.add(r.start, c.boiler_fuel[k].start + t, park.boilers[k].emission_t_per_mwh * dt)


def _peak_rows(grid_import: Block, peak: Block, rows: _Rows) -> None:
    """import_t - peak <= 0 (the demand charge's billed peak)."""
    t = rows.t
    r = rows.add("grid.peak", t.size)
    rows.coo.add(r.start + t, grid_import.start + t, 1.0)
    rows.coo.add(r.start + t, peak.start, -1.0)


def _placeholder_model(num_cols: int, rows: _Rows, integer_blocks: list[Block]) -> MatrixModel:
    """The matrix of ``rows`` with placeholder bounds and costs; ``integer_blocks`` integer."""
    integer = None
    if integer_blocks:
        integer = np.zeros(num_cols, dtype=bool)
        for b in integer_blocks:
            integer[b.start : b.start + b.size] = True
    coo, num_rows = rows.coo, rows.alloc.total
    return MatrixModel.from_coo(
        (np.concatenate(coo.rows), np.concatenate(coo.cols), np.concatenate(coo.vals)),
        cost=np.zeros(num_cols),
        col_bounds=(np.zeros(num_cols), np.full(num_cols, INF)),
        row_bounds=(np.full(num_rows, -INF), np.full(num_rows, INF)),
        integer=integer,
    )


def _lags(n: int, width: int) -> tuple[I64, I64]:
    """Pairs (t, t-k) for k < width and t-k >= 0: the terms of a rolling window sum."""
    k = np.arange(min(width, n), dtype=np.int64)
    t = np.arange(n, dtype=np.int64)
    tt = np.repeat(t, k.size)
    ss = tt - np.tile(k, n)
    keep = ss >= 0
    return tt[keep], ss[keep]
