"""The facilities report's words in English and Chinese, and the sentences built from results:
each split's stability, the recommended split, an infeasible scenario's reason."""

from __future__ import annotations

from collections.abc import Sequence

from zone_opt.optimise.facilities.advice import Recommendation, Rule, in_core, tolerance
from zone_opt.optimise.facilities.scenario import ScenarioResult
from zone_opt.optimise.facilities.sharing import CostShares
from zone_opt.reports import COMMON, Catalogue, Labels, number

__all__ = [
    "LABELS",
    "coalition",
    "infeasible_reasons",
    "recommendation_sentence",
    "stability_sentence",
]

LABELS = Catalogue(
    {
        "title": ("Shared facilities: {region}", "共享设施：{region}"),
        "subtitle": (
            "{n} scenarios: joint plans of the parks, what each park pays under each "
            "cost-sharing method, and whether any group of parks would rather plan alone.",
            "{n} 个情景：各园区的联合方案、各分摊方法下每个园区承担的费用，"
            "以及是否有园区组合更愿意单独规划。",
        ),
        "overview": ("Scenarios", "情景"),
        "overview_text": (
            "All costs are CNY a year (fixed costs annualised). The stand-alone total is what "
            "the parks pay when each plans alone; the saving is what planning together saves.",
            "所有费用单位为元/年（固定成本已年化）。单独规划合计是每个园区各自规划时的总费用；"
            "节省额为联合规划所节省的费用。",
        ),
        "best": (
            "{scenario} costs least: {total} CNY a year, {saving} CNY ({pct}) less than "
            "the parks planning alone.",
            "{scenario} 费用最低：每年 {total} 元，比各园区单独规划少 {saving} 元（{pct}）。",
        ),
        "scenarios_caption": ("Scenarios compared", "情景比较"),
        "costs_chart": (
            "Joint cost by component; the black tick is the stand-alone total.",
            "联合方案费用构成；黑色刻线为单独规划合计。",
        ),
        "scenario": ("scenario", "情景"),
        "total_cny": ("joint cost", "联合费用"),
        "fixed": ("fixed", "固定成本"),
        "transport": ("transport", "运输成本"),
        "operating": ("operating", "运营成本"),
        "standalone": ("stand-alone", "单独规划"),
        "standalone_total": ("stand-alone total", "单独规划合计"),
        "saving": ("saving", "节省"),
        "saving_share": ("saving share", "节省比例"),
        "open_sites": ("open sites", "开放站点"),
        "gap": ("MIP gap", "MIP 间隙"),
        "cost_axis": ("cost (million CNY a year)", "费用（百万元/年）"),
        "component": ("cost component", "费用构成"),
        "no_plan": ("no plan", "无方案"),
        "status_optimal": ("optimal", "最优"),
        "status_feasible": ("feasible (not proven optimal)", "可行（未证明最优）"),
        "status_infeasible": ("infeasible", "不可行"),
        "status_unbounded": ("unbounded", "无界"),
        "status_time_limit": ("time limit, no plan", "超时，无方案"),
        "status_cancelled": ("cancelled", "已取消"),
        "status_error": ("solver error", "求解出错"),
        # a scenario
        "plan_summary": (
            "The joint plan opens {sites} and costs {total} CNY a year: {fixed} fixed, "
            "{transport} transport, {operating} operating. Planning alone the parks would pay "
            "{standalone} CNY, so together they save {saving} CNY ({pct}).",
            "联合方案开放 {sites}，每年费用 {total} 元：固定 {fixed}、运输 {transport}、"
            "运营 {operating}。"
            "各园区单独规划共需 {standalone} 元，联合规划节省 {saving} 元（{pct}）。",
        ),
        "plan_summary_alone_unknown": (
            "The joint plan opens {sites} and costs {total} CNY a year: {fixed} fixed, "
            "{transport} transport, {operating} operating. Some park has no stand-alone plan, "
            "so no saving or cost split is shown.",
            "联合方案开放 {sites}，每年费用 {total} 元：固定 {fixed}、运输 {transport}、"
            "运营 {operating}。"
            "有园区无法单独规划，因此不显示节省额和费用分摊。",
        ),
        "not_proven": (
            "The solver stopped before proving this plan optimal: it is at most {gap} above "
            "the best possible cost.",
            "求解器在证明最优之前停止：该方案费用最多比最优值高 {gap}。",
        ),
        "kpi_total": ("joint cost", "联合费用"),
        "kpi_standalone": ("stand-alone total", "单独规划合计"),
        "kpi_saving": ("saving", "节省"),
        "kpi_sites": ("open sites", "开放站点"),
        "cny_a_year": ("CNY/yr", "元/年"),
        "map_caption": (
            "Parks (circles) and candidate sites (squares, filled colour: open or closed); "
            "lines: who is served where, coloured by facility type, wider for more units.",
            "园区（圆点）与候选站点（方块，颜色区分开放/关闭）；连线表示服务关系，颜色为设施类型，"
            "线越宽服务量越大。",
        ),
        "assignments_caption": ("Who is served where", "服务分配"),
        "open_sites_caption": ("Open sites", "开放站点"),
        "no_plan_title": ("No feasible plan", "无可行方案"),
        "infeasible": (
            "No plan meets all demand in this scenario: {units} units cannot be served. {why}",
            "该情景下没有能满足全部需求的方案：{units} 个单位的需求无法满足。{why}",
        ),
        "why_budget": (
            "The capital budget of {budget} CNY cannot open enough capacity within reach.",
            "{budget} 元的资本预算不足以开放足够的可达产能。",
        ),
        "why_distance": (
            "Within {km} km no site has enough capacity.",
            "{km} 公里范围内没有站点具有足够产能。",
        ),
        "why_single": (
            "With single sourcing a park's demand cannot be split between sites.",
            "单一来源约束下，园区需求不能在多个站点之间拆分。",
        ),
        "why_capacity": (
            "The sites' total capacity is below the demand.",
            "全部站点的总产能低于需求。",
        ),
        "unmet_caption": ("Demand that cannot be met", "无法满足的需求"),
        "unmet_reason": ("solver's reason", "求解器给出的原因"),
        "no_plan_status": (
            "No plan: the solver ended with {status}. {message}",
            "无方案：求解器结束状态为 {status}。{message}",
        ),
        # columns
        "facility_type": ("facility type", "设施类型"),
        "site": ("site", "站点"),
        "units": ("units", "服务量"),
        "units_unit": ("units/yr", "单位/年"),
        "need": ("share of need", "占需求比例"),
        "distance": ("distance", "距离"),
        "fixed_cost": ("fixed cost", "固定成本"),
        "parks_served": ("parks served", "服务园区"),
        "unmet_units": ("unmet", "未满足"),
        # map
        "east": ("east (km)", "东向（公里）"),
        "north": ("north (km)", "北向（公里）"),
        "open_site": ("open site", "开放站点"),
        "closed_site": ("closed site", "关闭站点"),
        "place": ("place", "地点"),
        "km": ("km", "公里"),
        # cost shares
        "shares_title": ("{scenario}: cost shares", "{scenario}：费用分摊"),
        "shares_text": (
            "Each method splits the joint cost of {total} CNY a year among the parks. A park's "
            "saving is its stand-alone cost minus its share.",
            "每种方法将每年 {total} 元的联合费用分摊给各园区。"
            "园区的节省额 = 单独规划费用 − 分摊额。",
        ),
        "shares_chart": (
            "Each park's share (million CNY a year) by method; the black tick is what the park "
            "would pay alone, so the gap between bar and tick is its saving.",
            "各方法下每个园区的分摊额（百万元/年）；黑色刻线为该园区单独规划的费用，"
            "柱与刻线之间的距离即其节省额。",
        ),
        "shares_caption": ("Cost shares by method (CNY a year)", "各方法的费用分摊（元/年）"),
        "stability_caption": ("Stability of each split", "各分摊方案的稳定性"),
        "shares_axis": ("cost share (million CNY a year)", "分摊费用（百万元/年）"),
        "reference": ("reference", "参照"),
        "in_core": ("stable (in the core)", "稳定（在核心中）"),
        "worst_group": ("closest group", "最接近退出的组合"),
        "excess": ("excess", "超额"),
        "epsilon": ("least-core ε", "最小核心 ε"),
        "std_error": ("Shapley ± (sampled)", "Shapley ±（抽样）"),
        "m_proportional": ("proportional", "按用量比例"),
        "m_shapley": ("Shapley", "Shapley 值"),
        "m_least_core": ("least core", "最小核心"),
        "m_nucleolus": ("nucleolus", "核仁"),
        "stable": (
            "{method}: no group of parks would pay less on its own: the closest is {group}, "
            "which pays {amount} CNY less with this split than alone.",
            "{method}：没有任何园区组合单独规划会更便宜；最接近的是 {group}，"
            "在该分摊下比单独规划少付 {amount} 元。",
        ),
        "stable_tight": (
            "{method}: no group of parks would pay less on its own; {group} pays exactly "
            "what it would pay alone.",
            "{method}：没有任何园区组合单独规划会更便宜；{group} 的分摊额恰好等于其单独规划费用。",
        ),
        "unstable": (
            "{method}: not stable: {group} would pay {amount} CNY less by planning on its own "
            "than with this split.",
            "{method}：不稳定：{group} 单独规划比该分摊少付 {amount} 元。",
        ),
        "core_empty": (
            "Least-core ε = {eps} CNY: every possible split leaves some group of parks at "
            "least {eps} CNY better off alone (the core is empty).",
            "最小核心 ε = {eps} 元："
            "任何分摊方案都会使某个园区组合单独规划至少便宜 {eps} 元（核心为空）。",
        ),
        "core_nonempty": (
            "Least-core ε = {eps} CNY: stable splits exist (the core is not empty).",
            "最小核心 ε = {eps} 元：存在稳定的分摊方案（核心非空）。",
        ),
        "recommended": ("Recommended: {method}, because {why}", "推荐：{method}，原因：{why}"),
        "why_shapley_in_core": (
            "it is stable (in the core: no group of parks would pay less alone) and it charges "
            "each park its average marginal cost, the split cooperative game theory singles "
            "out as fair.",
            "它是稳定的（在核心中：没有任何园区组合单独规划会更便宜），"
            "且每个园区承担其平均边际成本，"
            "这是合作博弈论公认的公平分摊。",
        ),
        "why_nucleolus_in_core": (
            "it is stable (in the core) and, of all stable splits, it gives the worst-off "
            "group of parks the largest margin over going alone{shapley_note}.",
            "它是稳定的（在核心中），并且在所有稳定方案中，"
            "它给予处境最差的园区组合最大的安全余量{shapley_note}。",
        ),
        "shapley_note": (
            "; the Shapley value is not stable here ({group} would pay {amount} CNY less alone)",
            "；此处 Shapley 值不稳定（{group} 单独规划可少付 {amount} 元）",
        ),
        "why_other_in_core": (
            "it is the only computed split that is stable (in the core); add nucleolus to "
            "the scenario's sharing methods for the most stable split.",
            "它是已计算方案中唯一稳定（在核心中）的；"
            "在情景文件的分摊方法中加入 nucleolus 可得到最稳定的方案。",
        ),
        "why_core_empty": (
            "no split is stable here (least-core ε = {eps} CNY) and it keeps the largest "
            "shortfall of any group at that minimum, spread as evenly as possible. Keeping "
            "every park in takes {eps} CNY a year from outside (a subsidy) or a different plan.",
            "此处不存在稳定分摊（最小核心 ε = {eps} 元），"
            "该方法把任何组合的最大损失压到这一最小值，并尽量均匀分布。"
            "要让所有园区都留下，需要每年 {eps} 元的外部补贴或调整方案。",
        ),
        "why_closest": (
            "no computed split is stable and it comes closest (its worst group pays {amount} "
            "CNY more than alone); add least_core and nucleolus to the scenario's sharing "
            "methods to learn whether any stable split exists.",
            "已计算方案均不稳定，它最接近稳定（最差组合比单独规划多付 {amount} 元）；"
            "在情景文件中加入 least_core 与 nucleolus 可判断是否存在稳定方案。",
        ),
        "sampled": (
            "Shapley shares are estimated from {samples} random join orders (± one "
            "standard error in the table).",
            "Shapley 分摊额由 {samples} 个随机加入顺序估计（表中 ± 为一个标准误差）。",
        ),
        # choosing a split
        "choosing": ("Choosing a cost split", "如何选择费用分摊方法"),
        "choosing_text": (
            "The methods answer different questions and can disagree a lot. The report "
            "recommends one split per scenario by this rule:",
            "各方法回答的问题不同，结果可能相差很大。报告按以下规则为每个情景推荐一种分摊：",
        ),
        "rule_1": (
            "Stable first: a split is in the core when no group of parks pays more than it "
            "would alone; only such a split keeps every group in the joint plan.",
            "稳定优先：若没有任何园区组合的分摊额超过其单独规划费用，则该分摊在核心中；"
            "只有这样的分摊才能让所有组合留在联合方案中。",
        ),
        "rule_2": (
            "Among stable splits: Shapley (each park pays its average marginal cost), then the "
            "nucleolus (the stable split with the largest margin for the worst-off group), "
            "then proportional, then the least-core point (one of many, possibly lopsided).",
            "在稳定方案中：优先 Shapley 值（每个园区承担平均边际成本），"
            "其次核仁（给处境最差组合最大余量的稳定方案），"
            "再次按用量比例，最后是最小核心点（众多可行点之一，可能很不均衡）。",
        ),
        "rule_3": (
            "When no split is stable (least-core ε > 0, the core is empty): the nucleolus, "
            "which holds every group's shortfall to ε; ε is what keeping all parks in costs.",
            "若不存在稳定分摊（最小核心 ε > 0，核心为空）：选核仁，"
            "它把每个组合的损失限制在 ε 以内；ε 即留住所有园区所需的代价。",
        ),
    },
    COMMON,
)


def coalition(names: Sequence[str]) -> str:
    """``{A, B}``: a group of parks as printed in sentences."""
    return "{" + ", ".join(names) + "}"


def method_name(t: Labels, method: str) -> str:
    return t(f"m_{method}")


def stability_sentence(t: Labels, split: CostShares) -> str:
    """One sentence: is the split in the core, and which group comes closest to leaving."""
    method = method_name(t, split.method.value)
    group = coalition(split.worst_coalition)
    excess = split.worst_excess_cny
    if not in_core(split):
        return t("unstable", method=method, group=group, amount=number(excess))
    if abs(excess) <= tolerance(split.total_cny) or number(-excess) == "0":
        return t("stable_tight", method=method, group=group)
    return t("stable", method=method, group=group, amount=number(-excess))


def epsilon_sentence(t: Labels, epsilon: float, total: float) -> str:
    key = "core_empty" if epsilon > tolerance(total) else "core_nonempty"
    return t(key, eps=number(epsilon))


def recommendation_sentence(t: Labels, rec: Recommendation) -> str:
    """``Recommended: <method>, because <rule in words>``."""
    eps = number(rec.epsilon_cny)
    if rec.rule is Rule.SHAPLEY_IN_CORE:
        why = t("why_shapley_in_core")
    elif rec.rule is Rule.NUCLEOLUS_IN_CORE:
        note = ""
        if rec.shapley is not None:
            note = t(
                "shapley_note",
                group=coalition(rec.shapley.worst_coalition),
                amount=number(rec.shapley.worst_excess_cny),
            )
        why = t("why_nucleolus_in_core", shapley_note=note)
    elif rec.rule is Rule.OTHER_IN_CORE:
        why = t("why_other_in_core")
    elif rec.rule is Rule.CORE_EMPTY:
        why = t("why_core_empty", eps=eps)
    else:
        why = t("why_closest", amount=number(rec.chosen.worst_excess_cny))
    return t("recommended", method=method_name(t, rec.method.value), why=why)


def infeasible_reasons(t: Labels, r: ScenarioResult) -> str:
    """Why a scenario has no plan, from its options (the solver's own words go in a table)."""
    p = r.scenario.problem
    reasons = " ".join(u.reason for u in r.plan.unmet)
    out = []
    if p.budget_cny is not None and "budget" in reasons:
        out.append(t("why_budget", budget=number(p.budget_cny)))
    if p.max_distance_km is not None and "distance" in reasons:
        out.append(t("why_distance", km=number(p.max_distance_km, 1).removesuffix(".0")))
    if p.single_source and "single sourcing" in reasons:
        out.append(t("why_single"))
    if "total capacity" in reasons:
        out.append(t("why_capacity"))
    return " ".join(out)
