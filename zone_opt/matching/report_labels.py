"""Words of the matching report in English and Chinese, and what each reason code means.

Every reason code a matching run can print has a short label and a plain-language
explanation in both languages: the candidate-generation codes of the engine
(:data:`zone_opt.matching.scoring.REASONS`, the hard constraint that removed an
enterprise's last candidate), ``OUTCOMPETED`` (:data:`zone_opt.matching.domain.UNMATCHED_REASONS`)
and the two codes of an idle space left without a tenant (:data:`SPACE_REASONS`).
"""

from __future__ import annotations

from zone_opt.reports import COMMON, Catalogue

__all__ = ["LABELS", "REASON_TEXT", "SPACE_REASONS", "reason_keys"]

#: Why an offered space found no tenant: no seeker had it among its best ``k`` feasible
#: spaces, or some did and each got a space that scored higher.
SPACE_REASONS: tuple[str, ...] = ("NO_SEEKER", "NOT_CHOSEN")

#: code -> ((short label en, zh), (explanation en, zh)).
REASON_TEXT: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "HAS_CANDIDATES": (
        ("Has candidates", "有候选空间"),
        (
            "At least one idle space passes every hard constraint of the enterprise.",
            "至少有一处闲置空间满足企业的全部硬性条件。",
        ),
    ),
    "NO_PARK_IN_RADIUS": (
        ("No park within its search radius", "搜索半径内没有园区"),
        (
            "No park lies within the distance the enterprise will move from its preferred "
            "location.",
            "企业期望位置的搜索半径内没有任何园区。",
        ),
    ),
    "NO_SPACE_IN_RADIUS": (
        ("No idle space within its radius", "搜索半径内没有闲置空间"),
        (
            "Parks lie within its search radius, but none of them has an idle space on offer.",
            "搜索半径内有园区，但这些园区都没有可供出租的闲置空间。",
        ),
    ),
    "AREA": (
        ("No space of the right size", "没有面积合适的空间"),
        (
            "Every idle space within reach is smaller or larger than the area range the "
            "enterprise asked for.",
            "可达范围内的闲置空间都不在企业要求的面积范围内。",
        ),
    ),
    "FLOOR_LOAD": (
        ("Floors not strong enough", "楼面承重不足"),
        (
            "The spaces of the right size cannot carry the floor load its process needs (kN/m²).",
            "面积合适的空间，楼面承重达不到企业生产所需（kN/m²）。",
        ),
    ),
    "CEILING_HEIGHT": (
        ("Ceilings too low", "层高不足"),
        (
            "The remaining spaces are lower than the clear height its process needs (m).",
            "其余空间的净高低于企业生产所需（m）。",
        ),
    ),
    "POWER": (
        ("Not enough power", "供电容量不足"),
        (
            "The remaining spaces cannot supply the electrical power the enterprise needs (kVA).",
            "其余空间的供电容量满足不了企业的用电需求（kVA）。",
        ),
    ),
    "RENT": (
        ("Rent too high", "租金过高"),
        (
            "The remaining spaces ask more rent than the most the enterprise will pay.",
            "其余空间的租金高于企业可接受的最高租金。",
        ),
    ),
    "HAZARDOUS_PERMIT": (
        ("No permit for hazardous processes", "无危险工艺许可"),
        (
            "The enterprise runs a hazardous process and none of the remaining spaces is "
            "permitted for one.",
            "企业有危险工艺，而其余空间都不允许危险工艺。",
        ),
    ),
    "INDUSTRY_NOT_PERMITTED": (
        ("Industry not admitted by the park", "园区不准入该行业"),
        (
            "The parks of the remaining spaces do not admit the enterprise's industry.",
            "其余空间所在的园区不准入该企业所属行业。",
        ),
    ),
    "SPACE_KIND": (
        ("Not the kind of space it needs", "空间类型不符"),
        (
            "The remaining spaces are not of a kind the enterprise accepts (factory floor, "
            "plot, office, warehouse or lab).",
            "其余空间不是企业可接受的类型（厂房、地块、办公、仓库或实验室）。",
        ),
    ),
    "NOT_AVAILABLE_YET": (
        ("Not available yet", "尚未可用"),
        (
            "The remaining spaces only become available after the matching date.",
            "其余空间要在匹配日期之后才能入驻。",
        ),
    ),
    "EXCLUDED": (
        ("Not seeking in this run", "未参与本轮匹配"),
        (
            "The enterprise was left out of this run (it already holds a tenancy).",
            "该企业未参与本轮匹配（已有租约）。",
        ),
    ),
    "OUTCOMPETED": (
        ("Outcompeted", "竞争落选"),
        (
            "It had suitable spaces, but each of them went to another enterprise, which "
            "made the better match overall.",
            "有合适的空间，但都分给了其他企业，整体匹配效果更好。",
        ),
    ),
    "NO_SEEKER": (
        ("No enterprise could use it", "没有企业可用"),
        (
            "No seeking enterprise had this space among its best candidates: too far, or "
            "the wrong size, kind, power, rent or permits for every one of them.",
            "没有任何求租企业把该空间列为候选：距离太远，或面积、类型、供电、租金、许可不符。",
        ),
    ),
    "NOT_CHOSEN": (
        ("Others were chosen instead", "企业选择了其他空间"),
        (
            "Some enterprises could use it, but each of them was given another space: one "
            "that scored higher, or one that raised the total score of all the matches.",
            "有企业可以使用该空间，但它们都分到了其他空间：得分更高，或使全部匹配的总分更高。",
        ),
    ),
}


def reason_keys(code: str) -> tuple[str, str]:
    """The catalogue keys of a code's short label and its explanation."""
    return f"reason.{code}", f"why.{code}"


def _reason_entries() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for code, (short, why) in REASON_TEXT.items():
        label_key, why_key = reason_keys(code)
        out[label_key], out[why_key] = short, why
    return out


LABELS = Catalogue(
    {
        **_reason_entries(),
        "title": ("Matching: idle space and enterprises", "空间匹配：闲置空间与求租企业"),
        "subtitle": (
            "{mode} matching on {date}: {seekers} enterprises seeking space, "
            "{spaces} idle spaces in {parks} parks",
            "{date} {mode}匹配：{seekers} 家企业求租，{parks} 个园区共 {spaces} 处闲置空间",
        ),
        "mode.optimal": ("Optimal", "最优"),
        "mode.stable": ("Stable", "稳定"),
        # at a glance
        "sec.glance": ("At a glance", "概览"),
        "kpi.area_share": ("Idle area matched", "闲置面积匹配率"),
        "kpi.area_note": ("{matched} of {idle} m²", "{idle} m² 中的 {matched} m²"),
        "kpi.space_share": ("Idle spaces matched", "闲置空间匹配率"),
        "kpi.space_note": ("{matched} of {idle} spaces", "{idle} 处中的 {matched} 处"),
        "kpi.demand_share": ("Enterprises placed", "企业落位率"),
        "kpi.demand_note": (
            "{matched} of {seekers} seeking enterprises",
            "{seekers} 家求租企业中的 {matched} 家",
        ),
        "kpi.demand_area_share": ("Requested area placed", "需求面积落位率"),
        "kpi.demand_area_note": (
            "lower end of each request: {matched} of {wanted} m²",
            "按需求下限：{wanted} m² 中的 {matched} m²",
        ),
        "kpi.matches": ("Matches", "匹配数"),
        "kpi.matches_note": ("{edges} candidate pairs considered", "共考察 {edges} 个候选对"),
        "kpi.total_score": ("Total score", "总得分"),
        "kpi.total_note": ("mean fit {fit} of 100", "平均匹配度 {fit}（满分 100）"),
        "glance.text": (
            "{matched} of {seekers} seeking enterprises found a space, and {area} m² of the "
            "{idle} m² of idle space ({share}) found a tenant. {no_cand} enterprises had no "
            "suitable space at all; {outcompeted} had suitable spaces that went to others.",
            "{seekers} 家求租企业中有 {matched} 家找到空间，{idle} m² 闲置面积中有 {area} m²"
            "（{share}）找到租户。{no_cand} 家企业没有任何合适空间；{outcompeted} 家企业的"
            "合适空间分给了其他企业。",
        ),
        "glance.none": (
            "No enterprise was matched: see below why.",
            "没有企业匹配成功，原因见下文。",
        ),
        # parks
        "sec.parks": ("Matched space by park", "各园区闲置空间匹配情况"),
        "parks.text": (
            "Idle floor area of each park, split into the part that found a tenant and the "
            "part still idle; the share matched is printed at the end of each bar. {most} "
            "let the most space: {area} m², {share} of its idle area.",
            "各园区闲置面积中已匹配与仍闲置的部分，条形末端为匹配率。{most} 匹配面积最大："
            "{area} m²，占其闲置面积的 {share}。",
        ),
        "parks.capped": (
            "The {n} parks with the most idle area are drawn; the rest are summed as "
            '"{other}". The exports list every park.',
            "图中列出闲置面积最大的 {n} 个园区，其余合并为“{other}”。导出文件包含全部园区。",
        ),
        "parks.caption": ("Idle area per park (m²)", "各园区闲置面积（m²）"),
        "parks.table": ("Idle and matched space per park", "各园区闲置与匹配空间"),
        "other_parks": ("other parks", "其他园区"),
        "area_axis": ("idle area (m²)", "闲置面积 (m²)"),
        "matched": ("matched", "已匹配"),
        "still_idle": ("still idle", "仍闲置"),
        "area_state": ("idle space", "闲置空间"),
        # industries
        "sec.industries": ("Enterprises placed by industry", "各行业企业落位情况"),
        "industries.text": (
            "Seeking enterprises by industry (GB/T 4754-2017 division), placed or not.",
            "按行业（GB/T 4754-2017 大类）统计的求租企业落位情况。",
        ),
        "industries.capped": (
            'The {n} industries with the most seekers are drawn; the rest are summed as "{other}".',
            "图中列出求租企业最多的 {n} 个行业，其余合并为“{other}”。",
        ),
        "industries.caption": ("Seeking enterprises per industry", "各行业求租企业数"),
        "industries.table": ("Enterprises placed per industry", "各行业企业落位情况"),
        "other_industries": ("other industries", "其他行业"),
        "enterprises_axis": ("seeking enterprises", "求租企业数"),
        "placed": ("placed", "已落位"),
        "not_placed": ("not placed", "未落位"),
        "placement": ("enterprises", "企业"),
        # reasons
        "sec.reasons": ("Why the rest did not match", "未匹配的原因"),
        "reasons.text": (
            "Each enterprise without a space and each idle space without a tenant has one "
            "reason; the table explains every code.",
            "每家未落位企业、每处未匹配空间都有一个原因代码，下表逐一解释。",
        ),
        "reasons.enterprises_caption": (
            "Enterprises without a space, by reason",
            "未落位企业（按原因）",
        ),
        "reasons.spaces_caption": (
            "Idle spaces without a tenant, by reason",
            "未匹配空间（按原因）",
        ),
        "reasons.table": ("Reason codes", "原因代码"),
        "count": ("count", "数量"),
        "count_enterprises": ("enterprises", "企业数"),
        "count_spaces": ("spaces", "空间数"),
        "reason": ("reason", "原因"),
        "reason_code": ("code", "代码"),
        "explanation": ("what it means", "含义"),
        "applies_to": ("applies to", "对象"),
        "side.enterprise": ("enterprise", "企业"),
        "side.space": ("space", "空间"),
        # scores
        "sec.scores": ("What the matches scored on", "匹配得分构成"),
        "scores.text": (
            "A match's fit (0–100) is the weighted mean of five components, each 0–1: {weights}.",
            "匹配度（0–100）是五个分项（各 0–1）的加权平均：{weights}。",
        ),
        "scores.by_park_caption": (
            "Mean fit of the matches per park, by component",
            "各园区匹配的平均匹配度（按分项）",
        ),
        "scores.spread_caption": (
            "Spread of each component over the matches: whiskers min–max, box the middle "
            "half, tick the median",
            "各分项在全部匹配中的分布：须线为最小至最大，箱体为中间一半，短线为中位数",
        ),
        "fit_axis": ("mean fit (points of 100)", "平均匹配度（满分 100）"),
        "component_axis": ("component value (0–1)", "分项值 (0–1)"),
        "component": ("component", "分项"),
        "list_sep": (", ", "、"),
        "comp.distance": ("distance", "距离"),
        "comp.cost": ("rent", "租金"),
        "comp.size": ("size fit", "面积适配"),
        "comp.chain": ("industry chain", "产业链"),
        "comp.carbon": ("carbon budget", "碳预算"),
        "no_matches": ("No matches to show.", "没有可显示的匹配。"),
        # who went where
        "sec.top": ("Who was matched where", "匹配明细：谁落位在哪里"),
        "top.text": (
            "The {n} best matches of each park by fit (the {parks} parks with the most "
            "matches); the exports list every match.",
            "每个园区匹配度最高的 {n} 个匹配（匹配数最多的 {parks} 个园区）；"
            "导出文件包含全部匹配。",
        ),
        "top.table": ("Best matches per park", "各园区最佳匹配"),
        "enterprise": ("enterprise", "企业"),
        "space": ("space", "空间"),
        "kind": ("kind", "类型"),
        "kind.factory_floor": ("factory floor", "厂房"),
        "kind.plot": ("plot", "地块"),
        "kind.office": ("office", "办公"),
        "kind.warehouse": ("warehouse", "仓库"),
        "kind.lab": ("lab", "实验室"),
        "area": ("area", "面积"),
        "fit": ("fit (of 100)", "匹配度（满分 100）"),
        "distance": ("distance", "距离"),
        "idle_spaces": ("idle spaces", "闲置空间数"),
        "matched_spaces": ("matched spaces", "已匹配空间数"),
        "idle_area": ("idle area", "闲置面积"),
        "matched_area": ("matched area", "已匹配面积"),
        "matched_share": ("area matched", "面积匹配率"),
        "mean_fit": ("mean fit (of 100)", "平均匹配度（满分 100）"),
        "seekers": ("seeking", "求租企业"),
        "placed_count": ("placed", "已落位"),
        "placed_share": ("placed share", "落位率"),
        "placed_area": ("area let", "落位面积"),
        "industry_code": ("division", "行业代码"),
        # exports
        "sec.files": ("Files", "文件"),
        "files.text": (
            "The tables behind this report are in {xlsx} (one sheet per table) and as CSV "
            "files: {csv}.",
            "本报告的数据表见 {xlsx}（每表一页）及 CSV 文件：{csv}。",
        ),
        "files.csv_only": (
            "{names} had more than {rows} rows: they are in their CSV files only, not in the "
            "workbook (its csv_only sheet lists them).",
            "{names} 超过 {rows} 行：仅保存为 CSV 文件，未放入工作簿"
            "（工作簿的 csv_only 页列出这些表）。",
        ),
    },
    COMMON,
)
