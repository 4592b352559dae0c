"""Infeasibility diagnosis: the constraints that conflict, in the park's names and units.

HiGHS computes an irreducible infeasible subsystem (IIS): rows and column bounds that cannot
hold together while every proper subset can. Its members are grouped by block and side
(``BESS.soc`` lower bound, ``balance.electricity``) and read back against the data that set
them (the bound's value, the hours involved), so a planner reads "BESS state of charge at
least 90 MWh at 2025-01-06 23:00 (end-of-horizon target)" instead of ``bound BESS.soc[23]``.
A MIP is diagnosed on its LP relaxation (where data conflicts show); when HiGHS isolates
nothing (an on/off-timing conflict of a MIP), one :class:`Conflict` says so: an infeasible
model never comes back with an empty diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import highspy
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zone_opt.optimise.dispatch.structure import ModelData, Structure
from zone_opt.optimise.solver import HighsSolver
from zone_opt.reports.i18n import Catalogue, Lang
from zone_opt.reports.numbers import number

__all__ = ["Conflict", "conflicting_constraints", "diagnose"]

#: IIS strategies tried in turn: elastic LP made irreducible, then the elastic LP alone.
_STRATEGIES = (
    int(highspy.IisStrategy.kIisStrategyFromLp) | int(highspy.IisStrategy.kIisStrategyIrreducible),
    int(highspy.IisStrategy.kIisStrategyFromLp),
)
#: Seconds HiGHS may spend on one IIS attempt.
IIS_TIME_LIMIT_S = 30.0

_LOWER, _UPPER, _BOXED = (
    int(highspy.IisBoundStatus.kIisBoundStatusLower),
    int(highspy.IisBoundStatus.kIisBoundStatusUpper),
    int(highspy.IisBoundStatus.kIisBoundStatusBoxed),
)

#: block key -> (unit, what it is); ``{asset}`` is the block's asset name.
LABELS = Catalogue(
    {
        "row.balance.electricity": (
            "electricity balance: supply must meet the load",
            "电力平衡：供给必须满足负荷",
        ),
        "row.balance.heat": (
            "heat balance: heat supply minus venting must meet the heat load",
            "热力平衡：供热减去排放必须满足热负荷",
        ),
        "row.soc": (
            "{asset} state of charge carries over from hour to hour (losses included)",
            "{asset} 荷电状态逐时结转（含损耗）",
        ),
        "row.energy": (
            "{asset} must use its daily energy inside its time window",
            "{asset} 须在其时段窗口内用完每日电量",
        ),
        "row.ramp": (
            "{asset} ramp limit (fuel input per step)",
            "{asset} 爬坡限制（每时段燃料输入）",
        ),
        "row.ramp_up": ("{asset} ramp-up limit", "{asset} 上爬坡限制"),
        "row.ramp_down": ("{asset} ramp-down limit", "{asset} 下爬坡限制"),
        "row.capacity_min": (
            "{asset} minimum stable output while on",
            "{asset} 开机时的最小稳定出力",
        ),
        "row.capacity_max": ("{asset} maximum output while on", "{asset} 开机时的最大出力"),
        "row.transition": ("{asset} start-up / shut-down bookkeeping", "{asset} 启停状态转换"),
        "row.min_up": ("{asset} minimum up time", "{asset} 最短开机时间"),
        "row.min_down": ("{asset} minimum down time", "{asset} 最短停机时间"),
        "row.carbon.cap": ("carbon cap over the horizon", "时段内碳排放上限"),
        "row.grid.peak": ("billed peak import", "计费最大购电功率"),
        "col.output": ("{asset} output", "{asset} 出力"),
        "col.grid.import": ("grid import", "电网购电"),
        "col.grid.export": ("grid export", "上网售电"),
        "col.grid.peak": ("billed peak import", "计费最大购电功率"),
        "col.fuel": ("{asset} fuel input", "{asset} 燃料输入"),
        "col.charge": ("{asset} charging power", "{asset} 充电功率"),
        "col.discharge": ("{asset} discharging power", "{asset} 放电功率"),
        "col.soc": ("{asset} state of charge", "{asset} 荷电状态"),
        "col.power": ("{asset} power", "{asset} 功率"),
        "col.unserved.electricity": ("unserved electricity", "未供电量"),
        "col.unserved.heat": ("unserved heat", "未供热量"),
        "col.heat.vent": ("heat venting", "排热"),
        "col.on": ("{asset} on/off status", "{asset} 启停状态"),
        "col.startup": ("{asset} start-up", "{asset} 启动"),
        "col.shutdown": ("{asset} shut-down", "{asset} 停机"),
        "generic": ("{asset}", "{asset}"),
        "op.lower": ("at least", "不低于"),
        "op.upper": ("at most", "不高于"),
        "op.equal": ("equal to", "等于"),
        "op.range": ("between", "介于"),
        "at": ("at {time}", "于 {time}"),
        "span": ("{first} to {last} ({steps} steps)", "{first} 至 {last}（{steps} 个时段）"),
        "end_target": ("end-of-horizon target", "期末目标"),
        "no_slack": (
            "unserved energy is not allowed (slack.unserved_max_mw = 0)",
            "不允许缺供（slack.unserved_max_mw = 0）",
        ),
        "load": ("load", "负荷"),
        "initial": ("starting from {value} MWh", "初始 {value} MWh"),
        "unisolated": (
            "HiGHS reports the model infeasible ({message}) but isolates no conflicting "
            "constraint; for unit commitment this means the on/off rules (minimum up and down "
            "times, the initial status, start-up ramps) cannot all hold",
            "HiGHS 判定模型不可行（{message}），但未能定位冲突约束；对机组组合而言，这表示启停规则"
            "（最短开机/停机时间、初始状态、启动爬坡）无法同时满足",
        ),
    }
)

#: block key -> unit of its bound values
_UNITS = {
    "row.balance.electricity": "MW",
    "row.balance.heat": "MW",
    "row.soc": "MWh",
    "row.energy": "MWh",
    "row.ramp": "MW",
    "row.ramp_up": "MW",
    "row.ramp_down": "MW",
    "row.carbon.cap": "t CO2e",
    "col.soc": "MWh",
    "col.on": "",
    "col.startup": "",
    "col.shutdown": "",
}
_SHARED = ("balance.", "grid.", "unserved.", "heat.", "carbon.")


@dataclass(frozen=True)
class Conflict:
    """A group of IIS members of one block and side, with the data behind them.

    ``constraint`` is the traceable block name (``"BESS.soc"``), ``member`` ``"row"`` or
    ``"bound"``, ``side`` ``"lower"``, ``"upper"``, ``"equal"``, ``"range"`` or ``""``;
    ``low``/``high`` the bound values over the member steps in ``unit``; ``first``/``last``
    the times of the first and last member step and ``steps`` their count.
    """

    constraint: str
    member: str
    asset: str
    side: str
    low: float | None
    high: float | None
    unit: str
    first: str
    last: str
    steps: int
    note: str = ""
    """A key of :data:`LABELS` adding context (``end_target``, ``no_slack``) or ``""``."""
    message: str = ""
    """Solver message of an unisolated conflict."""

    @property
    def key(self) -> str:
        kind = "row" if self.member == "row" else "col"
        name = self.constraint if self.constraint.startswith(_SHARED) else self.suffix
        key = f"{kind}.{name}"
        return key if key in LABELS.entries else "generic"

    @property
    def suffix(self) -> str:
        return self.constraint.rsplit(".", 1)[-1]

    def describe(self, lang: Lang = "en") -> str:
        """One sentence in ``lang`` naming the constraint, the bound, the data and the hours."""
        t = LABELS.labels(lang)
        if self.member == "model":
            return t("unisolated", message=self.message)
        text = t(self.key, asset=self.asset or self.constraint)
        value = _value(self.low, self.high)
        if self.side and value and self.note != "initial":
            op = t(f"op.{self.side}")
            text += f" ({op} {value} {self.unit}".rstrip() + ")"
        if self.first:
            when = (
                t("at", time=self.first)
                if self.steps == 1
                else t("span", first=self.first, last=self.last, steps=self.steps)
            )
            text += f", {when}"
        if self.note == "initial":
            text += f"; {t('initial', value=value)}"
        elif self.note:
            text += f"; {t(self.note)}"
        return f"{text} [{self.constraint}]"


def _value(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    digits = 0 if max(abs(low), abs(high)) >= 100 else 2
    if abs(high - low) <= 1e-9 * (1 + abs(low)):
        return number(low, digits)
    return f"{number(low, digits)}–{number(high, digits)}"


@dataclass(frozen=True)
class _Member:
    member: str
    index: int
    status: int


def _iis(solver: HighsSolver, structure: Structure) -> list[_Member]:
    """IIS members from HiGHS (on the LP relaxation of a MIP); [] if it finds none."""
    h = solver.highs
    integrality = None
    n = structure.num_cols
    if structure.model.integer is not None:
        integrality = [int(v) for v in structure.model.integer.astype(int)]
        h.changeColsIntegrality(n, list(range(n)), [0] * n)
    try:
        h.setOptionValue("iis_time_limit", IIS_TIME_LIMIT_S)
        for strategy in _STRATEGIES:
            h.setOptionValue("iis_strategy", strategy)
            status, iis = h.getIis()
            if status == highspy.HighsStatus.kError or not iis.valid_:
                continue
            rows = [
                _Member("row", int(i), int(s))
                for i, s in zip(iis.row_index_, iis.row_bound_, strict=True)
            ]
            cols = [
                _Member("bound", int(j), int(s))
                for j, s in zip(iis.col_index_, iis.col_bound_, strict=True)
                if int(s) in (_LOWER, _UPPER, _BOXED)
            ]
            if rows or cols:
                return rows + cols
    finally:
        if integrality is not None:
            h.changeColsIntegrality(n, list(range(n)), integrality)
    return []


def _side(status: int, lo: float, hi: float) -> str:
    if status == _LOWER:
        return "lower"
    if status == _UPPER:
        return "upper"
    if status == _BOXED:
        return "equal" if lo == hi else "range"
    return ""


def _bounds(
    side: str, lower: NDArray[np.float64], upper: NDArray[np.float64]
) -> tuple[float | None, float | None]:
    values = {"lower": lower, "upper": upper, "equal": lower}.get(side)
    if values is None or values.size == 0 or not np.isfinite(values).all():
        return None, None
    return float(values.min()), float(values.max())


def _note(structure: Structure, block: str, member: str, side: str, steps: list[int]) -> str:
    park = structure.park
    asset, _, what = block.rpartition(".")
    if member == "bound" and what == "soc" and side == "lower":
        bat = next((b for b in park.batteries if b.name == asset), None)
        if bat is not None and bat.end_soc_min_mwh is not None and structure.n_steps - 1 in steps:
            return "end_target"
    if member == "row" and what == "soc" and 0 in steps and not _cyclic(structure, asset):
        return "initial"
    if member == "bound" and block.startswith("unserved.") and side == "upper":
        return "no_slack" if park.slack.unserved_max_mw == 0 else ""
    return ""


def _cyclic(structure: Structure, battery: str) -> bool:
    names = [b.name for b in structure.park.batteries]
    return battery in names and structure.cyclic[names.index(battery)]


def diagnose(
    solver: HighsSolver,
    structure: Structure,
    data: ModelData,
    time: NDArray[np.datetime64],
    *,
    message: str = "",
) -> list[Conflict]:
    """The conflicts of an infeasible window; never empty. O(IIS size x log blocks) after
    HiGHS's IIS (an elastic LP, then deletion filtering, within :data:`IIS_TIME_LIMIT_S`)."""
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for m in _iis(solver, structure):
        blocks = structure.rows if m.member == "row" else structure.cols
        block = next(b for b in blocks.values() if b.start <= m.index < b.start + b.size)
        if m.member == "row":
            lo, hi = data.row_lower[m.index], data.row_upper[m.index]
        else:
            lo, hi = data.col_lower[m.index], data.col_upper[m.index]
        side = _side(m.status, float(lo), float(hi))
        groups.setdefault((m.member, block.name, side), []).append((m.index - block.start, m.index))
    out: list[Conflict] = []
    stamps = pd.DatetimeIndex(time)
    for (member, name, side), members in groups.items():
        members.sort()
        steps = [s for s, _ in members]
        idx = np.array([i for _, i in members])
        lower = data.row_lower[idx] if member == "row" else data.col_lower[idx]
        upper = data.row_upper[idx] if member == "row" else data.col_upper[idx]
        low, high = _bounds(side, lower, upper)
        per_day = name.endswith(".energy")  # one row per calendar day, not per step
        first = stamps[0 if per_day else steps[0]]
        last = stamps[-1 if per_day else steps[-1]]
        asset = "" if name.startswith(_SHARED) else name.rpartition(".")[0]
        conflict = Conflict(
            constraint=name,
            member=member,
            asset=asset,
            side=side,
            low=low,
            high=high,
            unit="",
            first=f"{first:%Y-%m-%d %H:%M}",
            last=f"{last:%Y-%m-%d %H:%M}",
            steps=len(steps),
            note=_note(structure, name, member, side, steps),
        )
        unit = _UNITS.get(conflict.key, "MW")
        out.append(_with_unit(conflict, unit, float(lower[0])))
    if not out:
        out.append(
            Conflict(
                constraint="model",
                member="model",
                asset="",
                side="",
                low=None,
                high=None,
                unit="",
                first=f"{stamps[0]:%Y-%m-%d %H:%M}" if len(stamps) else "",
                last=f"{stamps[-1]:%Y-%m-%d %H:%M}" if len(stamps) else "",
                steps=len(stamps),
                message=message or "infeasible",
            )
        )
    return out


def _with_unit(conflict: Conflict, unit: str, first_bound: float) -> Conflict:
    if conflict.member == "row" and conflict.key == "row.soc":
        # Hour-to-hour rows have a zero right-hand side: only the first step's (the SoC
        # carried in, after standing losses) is data, and only when the first step is in.
        start = first_bound if conflict.note == "initial" else None
        return replace(conflict, unit=unit, side="", low=start, high=start)
    return replace(conflict, unit=unit)


def conflicting_constraints(
    solver: HighsSolver, structure: Structure, data: ModelData, time: NDArray[np.datetime64]
) -> list[str]:
    """:func:`diagnose` as English sentences (what ``DispatchResult.infeasibility`` holds)."""
    return [c.describe("en") for c in diagnose(solver, structure, data, time)]
