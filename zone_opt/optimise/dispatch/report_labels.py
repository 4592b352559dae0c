"""Labels of the dispatch report in English and Chinese, and the cost components' names
and colour kinds (asset names are printed as the scenario gives them)."""

from __future__ import annotations

from collections.abc import Collection

from zone_opt.optimise.dispatch.diagnose import LABELS as CONFLICT_LABELS
from zone_opt.reports import COMMON, Catalogue, Labels

__all__ = ["LABELS", "cost_kind", "cost_label"]

LABELS = Catalogue(
    {
        "title": ("Energy dispatch: {park}", "园区能源调度：{park}"),
        "subtitle": (
            "Cheapest hourly schedule of the park's assets ({status})",
            "园区各设备的最低成本逐时调度（{status}）",
        ),
        "status.optimal": ("optimal", "最优"),
        "status.feasible": ("feasible, not proven optimal", "可行，未证明最优"),
        "status.infeasible": ("infeasible", "不可行"),
        "status.unbounded": ("unbounded", "无界"),
        "status.time_limit": ("stopped at the time limit", "达到时间限制"),
        "status.cancelled": ("cancelled", "已取消"),
        "status.error": ("solver error", "求解器错误"),
        "summary": ("Summary", "概要"),
        "horizon": (
            "{first} to {last}: {steps} steps solved in {windows} window(s); status {status}.",
            "{first} 至 {last}：共 {steps} 个时段，分 {windows} 个窗口求解；状态：{status}。",
        ),
        "kpi.cost": ("total cost", "总成本"),
        "kpi.emissions": ("emissions", "碳排放"),
        "kpi.import": ("grid import", "电网购电量"),
        "kpi.peak": ("peak grid import", "最大购电功率"),
        "kpi.renewable": ("renewables / electric load", "可再生电量 / 电负荷"),
        "kpi.unserved": ("unserved energy", "未供能量"),
        "week": ("Week {first} to {last}", "{first} 至 {last} 一周"),
        "week_how": (
            "Above zero: where the electricity comes from, stacked. Below zero: what it is "
            "used for besides the load (battery charging, grid export, the shiftable "
            "process). The black line is the load; supply exceeds it by exactly what is "
            "drawn below zero. Drag or scroll on a chart to zoom in time; hover for values.",
            "零线以上：电力来源（堆叠）。零线以下：负荷以外的用电（电池充电、上网售电、可调工艺负荷）。"
            "黑线为电负荷；供给超出负荷的部分正好等于零线以下的部分。在图上拖动或滚动可缩放时间轴；"
            "悬停查看数值。",
        ),
        "cap.elec": (
            "Electricity balance, MW: supply above zero, charging, export and process below.",
            "电力平衡（MW）：零线以上为供给，以下为充电、售电与工艺负荷。",
        ),
        "cap.heat": (
            "Heat balance, MW (thermal): CHP heat and boilers against the heat load; venting "
            "below zero. The park has no heat storage.",
            "热力平衡（MW 热）：热电联产供热与锅炉对应热负荷；排热在零线以下。园区无储热。",
        ),
        "cap.soc": ("Battery state of charge, MWh.", "电池荷电状态（MWh）。"),
        "cap.price": (
            "Grid price (CNY/MWh, left) and grid carbon intensity (t CO2e/MWh, right).",
            "电网电价（元/MWh，左轴）与电网碳排放强度（t CO2e/MWh，右轴）。",
        ),
        "long": ("The whole horizon", "全时段汇总"),
        "long_how": (
            "Energy per day and per month (MWh; demand besides the load below zero), cost "
            "per day (CNY), the battery's state of charge by day and hour, and duration "
            "curves (how many hours each power level is reached or exceeded).",
            "逐日与逐月能量（MWh；负荷以外的用电在零线以下）、逐日成本（元）、按日期与小时的电池荷电"
            "状态，以及持续曲线（各功率水平达到或超过的小时数）。",
        ),
        "cap.daily": ("Electricity per day and flow, MWh.", "逐日各电力流（MWh）。"),
        "cap.monthly": ("Electricity per month and flow, MWh.", "逐月各电力流（MWh）。"),
        "cap.cost": (
            "Cost per day and component, CNY (export revenue below zero; the demand charge "
            "is billed per window and not shown).",
            "逐日各成本项（元；售电收入在零线以下；需量电费按窗口计费，未列入）。",
        ),
        "cap.heatmap": (
            "{name}: mean state of charge by day and hour, MWh.",
            "{name}：按日期与小时的平均荷电状态（MWh）。",
        ),
        "cap.duration": (
            "Duration curves: load, grid import and net load (load minus renewables), MW.",
            "持续曲线：电负荷、电网购电与净负荷（负荷减可再生出力），MW。",
        ),
        "tab.monthly": ("Energy (MWh) and cost (CNY) per month", "逐月能量（MWh）与成本（元）"),
        "costs": ("Costs and emissions", "成本与排放"),
        "costs_how": (
            "The components add up to {total} CNY; the solver's objective is {objective} CNY.",
            "各成本项合计 {total} 元；求解器目标值为 {objective} 元。",
        ),
        "tab.costs": ("Cost and emissions by component", "各成本项的成本与排放"),
        "tab.energy": ("Energy per flow over the horizon", "全时段各能量流"),
        "infeasible": ("Why there is no schedule", "为何没有可行调度"),
        "infeasible_how": (
            "The solver reports the scenario {status}: the constraints below cannot all hold "
            "at once. Change one of their data (a bound, a target, a capacity) or allow "
            "unserved energy.",
            "求解器判定该情景{status}：以下约束无法同时满足。请修改其中某项数据（上下限、目标、容量），"
            "或允许未供能量。",
        ),
        "tab.conflicts": ("Conflicting constraints", "冲突约束"),
        "conflict.constraint": ("constraint", "约束"),
        "conflict.asset": ("asset", "设备"),
        "conflict.side": ("bound", "界限"),
        "conflict.low": ("value from", "数值自"),
        "conflict.high": ("value to", "数值至"),
        "conflict.unit": ("unit", "单位"),
        "conflict.first": ("first step", "起始时段"),
        "conflict.last": ("last step", "结束时段"),
        "conflict.steps": ("steps", "时段数"),
        "exports_how": (
            "The hourly schedule, daily and monthly summaries and the cost table, as CSV "
            "(UTF-8) and one Excel workbook with a sheet per table; units in the headers.",
            "逐时调度、逐日与逐月汇总及成本表，导出为 CSV（UTF-8）与一个 Excel 工作簿（每表一页）；"
            "表头含单位。",
        ),
        "load": ("electric load", "电负荷"),
        "heat_load": ("heat load", "热负荷"),
        "grid_import": ("grid import", "电网购电"),
        "grid_export": ("grid export", "上网售电"),
        "net_load": ("net load", "净负荷"),
        "unserved": ("unserved electricity", "未供电量"),
        "unserved_heat": ("unserved heat", "未供热量"),
        "venting": ("heat venting", "排热"),
        "of.discharge": ("{asset} discharge", "{asset} 放电"),
        "of.charge": ("{asset} charge", "{asset} 充电"),
        "of.heat": ("{asset} heat", "{asset} 供热"),
        "price": ("grid price", "电网电价"),
        "intensity": ("carbon intensity", "碳排放强度"),
        "price_axis": ("grid price (CNY/MWh)", "电网电价（元/MWh）"),
        "intensity_axis": ("carbon intensity (t CO2e/MWh)", "碳排放强度（t CO2e/MWh）"),
        "power_mw": ("power (MW)", "功率（MW）"),
        "heat_mw": ("heat (MW thermal)", "热功率（MW 热）"),
        "soc_mwh": ("state of charge (MWh)", "荷电状态（MWh）"),
        "energy_mwh": ("energy (MWh)", "能量（MWh）"),
        "cost_cny": ("cost (CNY)", "成本（元）"),
        "hour_of_day": ("hour of day", "小时"),
        "hours_at_or_above": ("hours at or above (h)", "达到或超过的小时数（h）"),
        "flow": ("flow", "能量流"),
        "battery": ("battery", "电池"),
        "series": ("series", "序列"),
        "component": ("component", "成本项"),
        "item": ("key", "键"),
        "cost": ("cost", "成本"),
        "emissions": ("emissions", "排放"),
        "energy": ("energy", "能量"),
        "electricity": ("electricity", "电"),
        "heat": ("heat", "热"),
        "carrier": ("carrier", "能源"),
        "column": ("schedule column", "调度表列"),
        "cost.grid_energy_cny": ("grid energy", "购电电费"),
        "cost.grid_carbon_cny": ("grid carbon", "购电碳成本"),
        "cost.export_revenue_cny": ("export revenue", "售电收入"),
        "cost.fuel_cny": ("{asset} fuel", "{asset} 燃料"),
        "cost.carbon_cny": ("{asset} carbon", "{asset} 碳成本"),
        "cost.startup_cny": ("{asset} start-ups", "{asset} 启停"),
        "cost.degradation_cny": ("{asset} degradation", "{asset} 电池损耗"),
        "cost.unserved_cny": ("unserved energy penalty", "未供能量罚金"),
        "cost.vent_cny": ("heat venting", "排热成本"),
        "cost.demand_charge_cny": ("demand charge", "需量电费"),
    },
    COMMON,
    CONFLICT_LABELS,
)

_COST_KINDS = {
    "grid_energy_cny": "grid_import",
    "grid_carbon_cny": "carbon_intensity",
    "export_revenue_cny": "grid_export",
    "carbon_cny": "scope1",
    "startup_cny": "startup",
    "degradation_cny": "battery_discharge",
    "unserved_cny": "unserved",
    "vent_cny": "heat_venting",
    "demand_charge_cny": "price",
}


def cost_label(key: str, t: Labels) -> str:
    """``"CHP1.fuel_cny"`` -> ``"CHP1 fuel"`` (``"CHP1 燃料"``); park-wide keys by name."""
    asset, _, what = key.rpartition(".")
    return t(f"cost.{what}", asset=asset) if asset else t(f"cost.{what}")


def cost_kind(key: str, boilers: Collection[str] = ()) -> str:
    """The colour kind of a cost component: fuel takes its unit's kind (a CHP, or one of
    ``boilers``)."""
    asset, _, what = key.rpartition(".")
    if what == "fuel_cny":
        return "boiler" if asset in boilers else "chp"
    return _COST_KINDS.get(what, what)
