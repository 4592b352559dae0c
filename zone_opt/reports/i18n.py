"""Report labels in English and Chinese (``--lang en|zh``).

Each report module keeps its own :class:`Catalogue` of ``key -> (English, 中文)`` next to
the charts that use it; :data:`COMMON` holds the words every report shares. A key missing
from a catalogue is a programming error and raises ``KeyError`` in tests, never a blank label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

__all__ = ["COMMON", "LANGS", "Catalogue", "Labels", "Lang", "check_lang"]

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = get_args(Lang)


def check_lang(value: str) -> Lang:
    """``value`` as a :data:`Lang`, or ``ValueError`` naming the choices."""
    for lang in LANGS:
        if value == lang:
            return lang
    raise ValueError(f"lang must be one of {', '.join(LANGS)}, not {value!r}")


class Catalogue:
    """Labels of one report: ``key -> (English, Chinese)``; ``{name}`` fields allowed."""

    def __init__(self, entries: Mapping[str, tuple[str, str]], *parents: Catalogue) -> None:
        merged: dict[str, tuple[str, str]] = {}
        for parent in parents:
            merged.update(parent.entries)
        merged.update(entries)
        self.entries: dict[str, tuple[str, str]] = merged

    def labels(self, lang: Lang) -> Labels:
        return Labels(self, lang)


class Labels:
    """A catalogue bound to one language: ``t("key", name=...)``."""

    def __init__(self, catalogue: Catalogue, lang: Lang) -> None:
        self.catalogue, self.lang = catalogue, lang

    def __call__(self, key: str, /, **fields: object) -> str:
        en, zh = self.catalogue.entries[key]
        text = zh if self.lang == "zh" else en
        return text.format(**fields) if fields else text


COMMON = Catalogue(
    {
        "generated_by": ("Made by zone-opt {version}", "由 zone-opt {version} 生成"),
        "unit": ("unit", "单位"),
        "total": ("total", "合计"),
        "time": ("time", "时间"),
        "hour": ("hour", "小时"),
        "day": ("day", "日"),
        "month": ("month", "月"),
        "park": ("park", "园区"),
        "tenant": ("tenant", "企业"),
        "industry": ("industry", "行业"),
        "source": ("source", "来源"),
        "scope": ("scope", "范围"),
        "value": ("value", "数值"),
        "share": ("share", "占比"),
        "status": ("status", "状态"),
        "method": ("method", "方法"),
        "contents": ("Contents", "目录"),
        "tables": ("Tables", "数据表"),
        "exports": ("Exports", "导出文件"),
        "none": ("none", "无"),
        "yes": ("yes", "是"),
        "no": ("no", "否"),
    }
)
