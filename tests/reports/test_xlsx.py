"""The fast workbook writer: what openpyxl reads back is what was written."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from zone_opt.reports import xlsx
from zone_opt.reports.xlsx import sheetable, write_workbook


def _values(path: Path, sheet: str) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path, read_only=True)
    return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]


def test_text_numbers_booleans_and_blanks_read_back(tmp_path: Path) -> None:
    table = pa.table(
        {
            "name": ["A & B <Ltd>", "苏州工业园区", None, " lead", "bell\x07"],
            "code": pa.array(["01", "39", "01", "97", "13"]).dictionary_encode(),
            "area_m2": [1200.5, float("nan"), 1e20, float("inf"), 1 / 3],
            "n": pa.array([1, None, -3, 2**40, 0], pa.int64()),
            "ok": [True, False, None, True, False],
        }
    )
    assert sheetable(table)
    path = write_workbook(tmp_path / "t.xlsx", {"a & b": table})
    rows = _values(path, "a & b")
    assert rows[0] == ("name", "code", "area_m2", "n", "ok")
    assert rows[1] == ("A & B <Ltd>", "01", 1200.5, 1, True)  # "01" stays text
    assert rows[2] == ("苏州工业园区", "39", None, None, False)  # NaN and null: blank
    assert rows[3][2] == 1e20
    assert rows[4] == (" lead", "97", None, 2**40, True)  # infinity: blank
    assert rows[5][0] == "bell"  # a control character XML cannot hold is dropped
    assert rows[5][2] == 1 / 3  # numbers in their shortest round-trip text


def test_a_long_sheet_is_written_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "CHUNK_ROWS", 7)
    table = pa.table({"i": list(range(30)), "s": [f"row {i}" for i in range(30)]})
    path = write_workbook(tmp_path / "t.xlsx", {"one": table, "two": table.slice(0, 3)})
    assert _values(path, "one")[1:] == [(i, f"row {i}") for i in range(30)]
    assert _values(path, "two")[1:] == [(i, f"row {i}") for i in range(3)]


def test_dates_are_not_sheetable() -> None:
    assert not sheetable(pa.table({"d": pa.array([0], pa.date32())}))
