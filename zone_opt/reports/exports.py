"""Tables for spreadsheets: CSV files and one Excel workbook, units in the headers.

A column's unit comes from its name's suffix (``area_m2`` -> m², ``co2e_kg`` -> kg CO2e,
``cost_cny`` -> CNY) unless given. Headers read ``area_m2 (m²)``; :func:`read_xlsx` and
:func:`read_csv` strip the unit again, so an export reads back to the same columns and
values. CSV is UTF-8 with a byte-order mark so spreadsheet programs show Chinese names.
Also :func:`write_json`: strict JSON (NaN and infinities become ``null``), which
JavaScript's ``JSON.parse`` accepts.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from openpyxl.utils import get_column_letter

from zone_opt.arguments import check_int

__all__ = [
    "EXCEL_MAX_ROWS",
    "ExportPlan",
    "Exported",
    "export_plan",
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
#: Data rows an Excel sheet holds (1,048,576 rows less the header).
EXCEL_MAX_ROWS = 1_048_575
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


def _headers(columns: Sequence[object], units: Mapping[str, str]) -> list[str]:
    out = []
    for column in map(str, columns):
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
class ExportPlan:
    """The files :func:`write_tables` will write, known before it runs (so a report can
    name them while they are being written): CSV file name per table, the workbook's name,
    the tables too long for a sheet."""

    csv: dict[str, str]
    xlsx: str
    csv_only: tuple[str, ...]


def export_plan(
    tables: Mapping[str, pd.DataFrame | pa.Table], stem: str, sheet_rows: int = EXCEL_MAX_ROWS
) -> ExportPlan:
    """What :func:`write_tables` writes for these tables (same names, same cap)."""
    sheet_rows = check_int("sheet_rows", sheet_rows, low=1, high=EXCEL_MAX_ROWS)
    return ExportPlan(
        csv={name: f"{stem}-{name}.csv" for name in tables},
        xlsx=f"{stem}.xlsx",
        csv_only=tuple(name for name, table in tables.items() if len(table) > sheet_rows),
    )


@dataclass(frozen=True)
class Exported:
    """Where the tables went: one CSV per table and the workbook; ``csv_only`` names the
    tables too long for a sheet (in their CSV files only)."""

    csv: dict[str, Path]
    xlsx: Path
    csv_only: tuple[str, ...] = ()


def write_tables(
    tables: Mapping[str, pd.DataFrame | pa.Table],
    out: Path,
    stem: str,
    *,
    units: Mapping[str, Mapping[str, str]] | None = None,
    sheet_rows: int = EXCEL_MAX_ROWS,
) -> Exported:
    """``stem-<table>.csv`` for each table and ``stem.xlsx`` with a sheet per table.

    A table of more than ``sheet_rows`` rows (at most :data:`EXCEL_MAX_ROWS`) is in its CSV
    file only; the workbook then ends with a ``csv_only`` sheet naming each such table, its
    rows and its file. Arrow tables are written as CSV by Arrow's writer, frames by pandas;
    the workbook by openpyxl (tens of microseconds a cell: keep ``sheet_rows`` to what a
    person reads in a spreadsheet). O(cells).
    """
    plan = export_plan(tables, stem, sheet_rows)
    units = units or {}
    out.mkdir(parents=True, exist_ok=True)
    csv_paths: dict[str, Path] = {}
    sheets: dict[str, pd.DataFrame | pa.Table] = {}
    taken: set[str] = set()
    too_long: list[tuple[str, int]] = []
    for name, table in tables.items():
        headers = _headers(_columns(table), units.get(name, {}))
        csv_paths[name] = _write_csv(table, headers, out / plan.csv[name])
        if name in plan.csv_only:
            too_long.append((name, len(table)))
            continue
        sheet = _sheet_name(name, taken)
        sheets[sheet] = (
            table.rename_columns(headers)
            if isinstance(table, pa.Table)
            else table.set_axis(headers, axis=1)
        )
    if too_long:
        sheets[_sheet_name("csv_only", taken)] = pd.DataFrame(
            {
                "table": [name for name, _ in too_long],
                "rows": [n for _, n in too_long],
                "csv_file": [csv_paths[name].name for name, _ in too_long],
            }
        )
    xlsx = _write_workbook(out / plan.xlsx, sheets)
    return Exported(csv=csv_paths, xlsx=xlsx, csv_only=tuple(name for name, _ in too_long))


def _columns(table: pd.DataFrame | pa.Table) -> list[object]:
    return list(table.column_names if isinstance(table, pa.Table) else table.columns)


def _write_csv(table: pd.DataFrame | pa.Table, headers: list[str], path: Path) -> Path:
    """UTF-8 with a byte-order mark; NaN and nulls are empty cells."""
    if not isinstance(table, pa.Table):
        table.set_axis(headers, axis=1).to_csv(path, index=False, encoding="utf-8-sig")
        return path
    columns = [_blank_nan(table.column(i)) for i in range(table.num_columns)]
    with path.open("wb") as f:
        f.write(codecs.BOM_UTF8)
        pacsv.write_csv(pa.table(columns, names=headers), f)
    return path


def _blank_nan(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if not pa.types.is_floating(column.type):
        return column
    return pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)


def _write_workbook(path: Path, sheets: Mapping[str, pd.DataFrame | pa.Table]) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as book:
        for sheet, table in sheets.items():
            frame = _frame(table)
            frame.to_excel(book, sheet_name=sheet, index=False, freeze_panes=(1, 0))
            _fit_columns(book.sheets[sheet], frame)
    return path


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
