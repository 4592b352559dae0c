"""Tables for spreadsheets: CSV files and one Excel workbook, units in the headers.

A column's unit comes from its name's suffix (``area_m2`` -> m², ``co2e_kg`` -> kg CO2e,
``cost_cny`` -> CNY) unless given. Headers read ``area_m2 (m²)``; :func:`read_xlsx` and
:func:`read_csv` strip the unit again, so an export reads back to the same columns and
values. CSV is UTF-8 with a byte-order mark so spreadsheet programs show Chinese names.
Also :func:`write_json`: strict JSON (NaN and infinities become ``null``), which
JavaScript's ``JSON.parse`` accepts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from openpyxl.utils import get_column_letter

__all__ = [
    "Exported",
    "read_csv",
    "read_xlsx",
    "strict",
    "unit_of",
    "write_json",
    "write_tables",
]

#: name suffix -> unit, longest suffix first when matching
SUFFIX_UNITS: dict[str, str] = {
    "_m2": "m²",
    "_km": "km",
    "_m": "m",
    "_cny": "CNY",
    "_cny_per_mwh": "CNY/MWh",
    "_cny_per_kwh": "CNY/kWh",
    "_cny_per_t": "CNY/t",
    "_mw": "MW",
    "_mwh": "MWh",
    "_kw": "kW",
    "_kwh": "kWh",
    "_kva": "kVA",
    "_gj": "GJ",
    "_m3": "m³",
    "_t": "t",
    "_kg": "kg",
    "_co2e_kg": "kg CO2e",
    "_co2e_t": "t CO2e",
    "_tco2e": "t CO2e",
    "_kgco2e_per_kwh": "kg CO2e/kWh",
    "_t_per_mwh": "t CO2e/MWh",
    "_tce": "tce",
    "_h": "h",
    "_s": "s",
    "_pct": "%",
    "_share": "fraction",
    "_fraction": "fraction",
    "_units": "units",
}
_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?) \((?P<unit>[^()]*)\)$")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def unit_of(column: str) -> str | None:
    """The unit a column's name carries, or ``None``."""
    for suffix in sorted(SUFFIX_UNITS, key=len, reverse=True):
        if column.endswith(suffix):
            return SUFFIX_UNITS[suffix]
    return None


def _frame(table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _headers(frame: pd.DataFrame, units: Mapping[str, str]) -> list[str]:
    out = []
    for column in map(str, frame.columns):
        unit = units.get(column) or unit_of(column)
        out.append(f"{column} ({unit})" if unit else column)
    return out


def _sheet_name(name: str, taken: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub("_", name)[:31] or "sheet"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base[: 31 - len(str(n)) - 1]}_{n}"
    taken.add(candidate.lower())
    return candidate


@dataclass(frozen=True)
class Exported:
    """Where the tables went: one CSV per table and the workbook."""

    csv: dict[str, Path]
    xlsx: Path


def write_tables(
    tables: Mapping[str, pd.DataFrame | pa.Table],
    out: Path,
    stem: str,
    *,
    units: Mapping[str, Mapping[str, str]] | None = None,
) -> Exported:
    """``stem-<table>.csv`` for each table and ``stem.xlsx`` with a sheet per table."""
    units = units or {}
    out.mkdir(parents=True, exist_ok=True)
    csv_paths: dict[str, Path] = {}
    xlsx = out / f"{stem}.xlsx"
    taken: set[str] = set()
    with pd.ExcelWriter(xlsx, engine="openpyxl") as book:
        for name, table in tables.items():
            frame = _frame(table)
            headed = frame.set_axis(_headers(frame, units.get(name, {})), axis=1)
            path = out / f"{stem}-{name}.csv"
            headed.to_csv(path, index=False, encoding="utf-8-sig")
            csv_paths[name] = path
            sheet = _sheet_name(name, taken)
            headed.to_excel(book, sheet_name=sheet, index=False, freeze_panes=(1, 0))
            _fit_columns(book.sheets[sheet], headed)
    return Exported(csv=csv_paths, xlsx=xlsx)


def _fit_columns(sheet: Any, frame: pd.DataFrame) -> None:
    for i, column in enumerate(frame.columns, start=1):
        sample = frame[column].astype(str).str.len().head(200)
        width = max([len(str(column)), *sample.tolist()]) if len(sample) else len(str(column))
        sheet.column_dimensions[get_column_letter(i)].width = min(60, width + 2)


def _strip_units(frame: pd.DataFrame) -> pd.DataFrame:
    names = []
    for header in map(str, frame.columns):
        m = _UNIT_IN_HEADER.match(header)
        names.append(m["name"] if m else header)
    return frame.set_axis(names, axis=1)


def _text_dtypes(headers: list[str], text: Sequence[str]) -> dict[str, type[str]]:
    wanted = set(text)
    out: dict[str, type[str]] = {}
    for header in headers:
        m = _UNIT_IN_HEADER.match(header)
        if (m["name"] if m else header) in wanted:
            out[header] = str
    return out


def read_xlsx(path: Path, *, text: Sequence[str] = ()) -> dict[str, pd.DataFrame]:
    """Every sheet of an export, headers without their units.

    Values are those written; a float column whose values are whole numbers reads back as
    integers (a workbook stores numbers, not their types). Columns named in ``text`` are
    read as text (codes such as ``"01"`` keep their leading zeros).
    """
    heads = pd.read_excel(path, sheet_name=None, engine="openpyxl", nrows=0)
    out = {}
    for name, head in heads.items():
        dtype = _text_dtypes(list(map(str, head.columns)), text)
        frame = pd.read_excel(path, sheet_name=name, engine="openpyxl", dtype=dtype or None)
        out[str(name)] = _strip_units(frame)
    return out


def read_csv(path: Path, *, text: Sequence[str] = ()) -> pd.DataFrame:
    """One CSV export, headers without their units; ``text`` columns read as text."""
    head = pd.read_csv(path, encoding="utf-8-sig", nrows=0)
    dtype = _text_dtypes(list(map(str, head.columns)), text)
    return _strip_units(pd.read_csv(path, encoding="utf-8-sig", dtype=dtype or None))


def strict(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return strict(value.item())
    return value


def write_json(path: Path, value: Any) -> Path:
    """Write strict JSON (``allow_nan=False`` after :func:`strict`), UTF-8, indented."""
    path.write_text(
        json.dumps(strict(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    return path
