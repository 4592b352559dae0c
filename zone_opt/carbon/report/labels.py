"""The carbon reports' words in English and Chinese, and the names shown for scopes,
methods and sources (the ids in the result stay as they are in tables and exports)."""

from __future__ import annotations

from zone_opt.reports import COMMON, Catalogue, Labels

__all__ = ["CARBON", "method_label", "scope_label", "source_label"]

CARBON = Catalogue(
    {
        # titles
        "park_title": ("Carbon accounting: park {park}", "碳排放核算：园区 {park}"),
        "park_subtitle": (
            "{start}, {hours} hours, {tenants} tenants; factors {location} (location) and "
            "{residual} (market)",
            "{start} 起 {hours} 小时，{tenants} 家企业；排放因子 {location}（基于位置）、"
            "{residual}（基于市场）",
        ),
        "tenant_title": ("Carbon accounting: {tenant}", "碳排放核算：{tenant}"),
        "tenant_subtitle": (
            "Tenant of park {park} ({id}); {start}, {hours} hours",
            "园区 {park} 入驻企业（{id}）；{start} 起 {hours} 小时",
        ),
        # sections
        "s_indicators": ("Zero-carbon park indicators", "零碳园区指标"),
        "s_footprint": ("Park footprint by scope and source", "园区排放：按范围与来源"),
        "s_reconciliation": ("Reconciliation", "核对"),
        "s_tenants": ("Tenants", "入驻企业"),
        "s_hourly": ("Hour by hour", "逐时排放"),
        "s_exports": ("Files", "文件"),
        "s_tenant_kpis": ("Key figures", "关键指标"),
        "s_monthly": ("Month by month", "逐月排放"),
        "s_allocation": ("Allocation", "分摊明细"),
        # indicators
        "k_intensity": ("Carbon per unit of energy (market-based)", "单位能耗碳排放（基于市场）"),
        "k_clean": ("Clean-energy share of consumption", "清洁能源消费占比"),
        "k_clean_electricity": ("Clean-electricity share", "绿色电力占比"),
        "k_own": ("Park's own footprint (market-based)", "园区自身排放（基于市场）"),
        "k_own_location": ("Park's own footprint (location-based)", "园区自身排放（基于位置）"),
        "k_exported": ("Exported with the CHP's power", "随热电联产发电外输"),
        "k_energy": ("Energy use", "综合能耗"),
        "k_energy_note": ("{annual} tce a year", "折合每年 {annual} 吨标准煤"),
        "k_location": ("Location-based", "基于位置"),
        "k_market": ("Market-based", "基于市场"),
        "k_per_output": ("Per output value", "单位产值排放"),
        "k_matching": ("Hourly matching score", "逐时匹配率"),
        "threshold_max": (
            "threshold ≤ {value} ({band}): {verdict}",
            "阈值 ≤ {value}（{band}）：{verdict}",
        ),
        "threshold_min": ("threshold ≥ {value}: {verdict}", "阈值 ≥ {value}：{verdict}"),
        "met": ("met", "达标"),
        "not_met": ("not met", "未达标"),
        "band_small": ("below 200,000 tce/yr", "年综合能耗低于 20 万吨标准煤"),
        "band_mid": ("200,000–1,000,000 tce/yr", "年综合能耗 20 万–100 万吨标准煤"),
        "band_all": ("every park", "所有园区"),
        "band_large": ("≥ 1,000,000 tce/yr", "年综合能耗 100 万吨标准煤及以上"),
        "tenant_vs_park": ("park threshold ≤ {value}", "园区阈值 ≤ {value}"),
        "indicators_text": (
            "The core indicator of a zero-carbon park (发改环资〔2025〕910号) is the carbon "
            "emitted per tonne of standard coal equivalent used: the park's own market-based "
            "footprint ({own} t CO2e, without the {exported} t that leave with the CHP's "
            "exported power) over its energy use ({tce} tce in {hours} hours, {annual} tce a "
            "year). A park of {annual} tce a year falls in the band {band}: "
            "threshold {threshold} t CO2/tce. The park emits {value} t CO2/tce: {verdict}.",
            "零碳园区的核心指标（发改环资〔2025〕910号）为单位能耗碳排放：园区自身基于市场的排放"
            "（{own} 吨 CO2e，不含随热电联产外输电力离开园区的 {exported} 吨）"
            "除以综合能耗（{hours} 小时内 {tce} 吨标准煤，折合每年 {annual} 吨标准煤）。"
            "年综合能耗 {annual} 吨标准煤属于「{band}」档：阈值 {threshold} 吨 CO2/吨标准煤。"
            "园区为 {value} 吨 CO2/吨标准煤：{verdict}。",
        ),
        "small_band_note": (
            "The policy's bands start at 200,000 tce a year; this park is smaller, so the "
            "stricter 0.20 t CO2/tce of the 200,000–1,000,000 tce band is applied.",
            "政策分档自年综合能耗 20 万吨标准煤起；本园区规模更小，按 20 万–100 万吨标准煤档更严的 "
            "0.20 吨 CO2/吨标准煤衡量。",
        ),
        "clean_text": (
            "Clean energy is on-site PV and hourly-matched green power, counted at "
            "{coefficient} kgce/kWh: {clean} of {tce} tce, {share} (threshold ≥ 90 %). "
            "Of the electricity alone, {electricity_share} is clean.",
            "清洁能源为园区光伏与逐时匹配的绿电，按 {coefficient} 千克标准煤/千瓦时折算：{tce} 吨"
            "标准煤中占 {clean} 吨，{share}（阈值 ≥ 90 %）。仅就电力而言，绿色电力占 "
            "{electricity_share}。",
        ),
        "thresholds_source": (
            "Thresholds as summarised in the project's reference (re-check against the "
            "indicator annex of 发改环资〔2025〕910号).",
            "阈值取自项目参考资料的摘要（请以发改环资〔2025〕910号指标附件为准复核）。",
        ),
        # footprint
        "footprint_text": (
            "Market-based, the park's own footprint is {own} t CO2e; {exported} t more are "
            "emitted by the CHP for the power it exports. They are drawn as a bar of their "
            "own and are not part of the park's footprint.",
            "基于市场，园区自身排放 {own} 吨 CO2e；热电联产为外输电力另排放 {exported} 吨，"
            "单独成条，不计入园区自身排放。",
        ),
        "bar_own": ("{method}: park's own", "{method}：园区自身"),
        "bar_exported": ("Exported (CHP power)", "外输（热电联产发电）"),
        "c_footprint": (
            "The park's own footprint by source under each Scope 2 method, and, apart, what "
            "leaves with the CHP's exported power; t CO2e.",
            "两种范围二方法下园区自身排放的来源构成，以及单列的随热电联产外输电力离开的排放；"
            "吨 CO2e。",
        ),
        "c_sources": (
            "Each source of the park's own footprint, with its value; small sources keep a "
            "label even where the bar is thin.",
            "园区自身排放的各来源及其数值；数值较小的来源即使条形很窄也标有数值。",
        ),
        "c_tenants": (
            "Market-based emissions per tenant by source (click a bar for the tenant's page).",
            "各企业基于市场的排放及来源构成（点击条形打开企业页面）。",
        ),
        "c_hourly_park": (
            "The park's own market-based emissions, hour of day by day; kg CO2e per hour.",
            "园区自身基于市场的逐时排放（按日期与时刻）；千克 CO2e/小时。",
        ),
        "c_monthly": (
            "Emissions per month by source, location- and market-based Scope 2 side by side; "
            "t CO2e.",
            "逐月排放及来源构成，范围二基于位置与基于市场并列；吨 CO2e。",
        ),
        "c_hourly_tenant": (
            "Market-based emissions, hour of day by day; kg CO2e per hour.",
            "基于市场的逐时排放（按日期与时刻）；千克 CO2e/小时。",
        ),
        "reconciliation_text": (
            "Per method and source, what tenants, the landlord (losses and unused shares) and "
            "the export carry adds up to the park inventory to the gram: {balanced} of {rows} "
            "lines balance.",
            "按方法与来源，企业、园区方（损耗与未使用份额）与外输三部分之和逐克等于园区总排放："
            "{rows} 行中 {balanced} 行平衡。",
        ),
        "tenants_text": (
            "{tenants} tenants carry {tenant_t} t CO2e (market-based). Each has a printable "
            "page under tenants/ (the page column).",
            "{tenants} 家企业共承担 {tenant_t} 吨 CO2e（基于市场）。每家企业在 tenants/ 下有一页"
            "可打印的报告（见「页面」列）。",
        ),
        "rows_too_many": (
            "The {rows} hourly rows are in rows.parquet (more than a spreadsheet holds).",
            "{rows} 行逐时明细见 rows.parquet（超出电子表格行数上限）。",
        ),
        "exports_text": (
            "Tables as CSV (carbon-<table>.csv) and one workbook (carbon.xlsx), units in the "
            "headers; the Parquet tables and manifest.json beside them.",
            "数据表导出为 CSV（carbon-<表名>.csv）与一个工作簿（carbon.xlsx），表头注明单位；"
            "同目录另有 Parquet 表与 manifest.json。",
        ),
        "tenant_kpis_text": (
            "{location} t CO2e location-based, {market} t market-based, over {tce} tce of "
            "energy use.",
            "基于位置 {location} 吨 CO2e，基于市场 {market} 吨，综合能耗 {tce} 吨标准煤。",
        ),
        # tables
        "t_indicators": ("Zero-carbon park indicators", "零碳园区指标"),
        "t_totals": ("Park totals by scope and source", "园区排放合计（按范围与来源）"),
        "t_reconciliation": (
            "Reconciliation: tenants + landlord + export = inventory",
            "核对：企业 + 园区方 + 外输 = 总排放",
        ),
        "t_tenants": ("Tenants", "入驻企业"),
        "t_allocation": ("Allocated rows (annual)", "分摊明细（全期）"),
        "t_monthly": ("Per month", "逐月"),
        "indicator": ("indicator", "指标"),
        "threshold": ("threshold", "阈值"),
        "band": ("band", "档位"),
        "met_col": ("met", "达标"),
        "part": ("part", "部分"),
        "own": ("park's own", "园区自身"),
        "exported": ("exported", "外输"),
        "inventory": ("inventory", "总排放"),
        "tenants": ("tenants", "企业"),
        "landlord": ("landlord", "园区方"),
        "balanced": ("balanced", "平衡"),
        "location_t": ("location-based", "基于位置"),
        "market_t": ("market-based", "基于市场"),
        "energy": ("energy", "综合能耗"),
        "per_tce": ("per tce", "单位能耗"),
        "per_output": ("per 10k CNY output", "万元产值"),
        "clean_electricity": ("clean electricity", "绿色电力"),
        "page": ("page", "页面"),
        "name": ("name", "名称"),
        "emissions": ("emissions", "排放"),
        "day_of_period": ("day", "日期"),
        "hour_of_day": ("hour of day", "时刻"),
        "t_co2e": ("t CO2e", "吨 CO2e"),
        "kg_co2e_h": ("kg CO2e per hour", "千克 CO2e/小时"),
        "t_per_tce": ("t CO2/tce", "吨 CO2/吨标准煤"),
        "t_per_10k": ("t CO2e/10k CNY", "吨 CO2e/万元"),
        "tce": ("tce", "吨标准煤"),
        "bar": ("", ""),
        # scopes, methods, sources
        "scope1": ("Scope 1", "范围一"),
        "scope2": ("Scope 2", "范围二"),
        "scope2-location": ("Scope 2, location-based", "范围二（基于位置）"),
        "scope2-market": ("Scope 2, market-based", "范围二（基于市场）"),
        "scope3": ("Scope 3", "范围三"),
        "location": ("Location-based", "基于位置"),
        "market": ("Market-based", "基于市场"),
        "grid-electricity": ("Grid electricity", "电网购电"),
        "grid-losses": ("Grid losses", "电网线损"),
        "natural-gas": ("Natural gas", "天然气"),
        "chp": ("CHP heat", "热电联产供热"),
        "chp-export": ("CHP power, exported", "热电联产发电（外输）"),
    },
    COMMON,
)

#: Source ids with a label in the catalogue; others (shared facilities' products, named
#: by the park file) are printed as given.
KNOWN_SOURCES = ("grid-electricity", "grid-losses", "natural-gas", "chp", "chp-export")


def source_label(t: Labels, source: str) -> str:
    """The name shown for a source id (a facility product reads ``WWTP / electricity``)."""
    if source in KNOWN_SOURCES:
        return t(source)
    return source.replace("/", " / ")


def scope_label(t: Labels, scope: str) -> str:
    return t(scope) if scope in ("scope1", "scope2-location", "scope2-market", "scope3") else scope


def method_label(t: Labels, method: str) -> str:
    return t(method) if method in ("location", "market") else method
