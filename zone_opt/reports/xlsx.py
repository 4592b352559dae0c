"""A fast workbook writer: one sheet per Arrow table of text, numbers and booleans.

Each sheet's XML is built a column at a time with Arrow string kernels (numbers in Arrow's
shortest round-trip form, text XML-escaped and written inline), rows joined in C and
deflated by :mod:`zipfile`: no Python object per cell, so 10^6 cells take well under a
second where openpyxl needs tens. The header row is bold and frozen, columns are sized to
their header and first 200 values. Empty cells: nulls, NaN and infinities. Other column
types (dates, lists) are not handled: :func:`sheetable` says whether a table qualifies.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from openpyxl.utils import get_column_letter

__all__ = ["sheetable", "write_workbook"]

#: Rows of a sheet built and deflated at a time (bounds the memory of a long sheet).
CHUNK_ROWS = 50_000
_ILLEGAL_XML = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _plain(type_: pa.DataType) -> pa.DataType:
    return type_.value_type if pa.types.is_dictionary(type_) else type_


def sheetable(table: pa.Table) -> bool:
    """Whether every column is text, a number, a boolean or all null."""
    ok = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_null,
    )
    return all(any(is_(_plain(f.type)) for is_ in ok) for f in table.schema)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values as XML-safe text (null where the cell is empty)."""
    type_ = _plain(column.type)
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, type_)
    if pa.types.is_floating(type_):
        finite = pc.is_finite(column)
        column = pc.if_else(finite, column, pa.scalar(None, type_))
    if pa.types.is_boolean(type_):
        return pc.if_else(column, "1", "0")
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        column = pc.replace_substring_regex(column, _ILLEGAL_XML, "")
        for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            column = pc.replace_substring(column, old, new)
        return column
    return pc.cast(column, pa.string())


def _cells(column: pa.ChunkedArray, letter: str, row_numbers: pa.Array) -> pa.ChunkedArray:
    """One ``<c>`` element per row (an empty string for an empty cell)."""
    type_ = _plain(column.type)
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        kind, open_v, close_v = ' t="inlineStr"', '<is><t xml:space="preserve">', "</t></is>"
    elif pa.types.is_boolean(type_):
        kind, open_v, close_v = ' t="b"', "<v>", "</v>"
    else:
        kind, open_v, close_v = "", "<v>", "</v>"
    text = pc.cast(_text(column), pa.string())
    start = f'<c r="{letter}'
    cells = pc.binary_join_element_wise(
        start, row_numbers, f'"{kind}>', open_v, text, close_v, "</c>", ""
    )
    return pc.fill_null(cells, "")


def _width(column: pa.ChunkedArray, header: str) -> float:
    sample = pc.utf8_length(pc.cast(_text(column.slice(0, 200)), pa.string()))
    longest = pc.max(sample).as_py() or 0
    return float(min(60, max(len(header), int(longest)) + 2))


def _header_row(names: list[str]) -> str:
    cells = "".join(
        f'<c r="{get_column_letter(i)}1" s="1" t="inlineStr"><is><t>{escape(n)}</t></is></c>'
        for i, n in enumerate(names, start=1)
    )
    return f'<row r="1">{cells}</row>'


def _write_sheet(book: zipfile.ZipFile, path: str, table: pa.Table) -> None:
    letters = [get_column_letter(i) for i in range(1, table.num_columns + 1)]
    widths = [_width(table.column(i), n) for i, n in enumerate(table.column_names)]
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    pane = '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    head = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}">'
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        f"<cols>{cols}</cols><sheetData>{_header_row(table.column_names)}"
    )
    with book.open(path, "w", force_zip64=True) as sheet:
        sheet.write(head.encode())
        for start in range(0, table.num_rows, CHUNK_ROWS):
            part = table.slice(start, CHUNK_ROWS)
            numbers = pa.array(np.arange(start + 2, start + 2 + part.num_rows).astype(str))
            parts = [_cells(part.column(i), letters[i], numbers) for i in range(len(letters))]
            rows = pc.binary_join_element_wise('<row r="', numbers, '">', *parts, "</row>", "")
            sheet.write(_joined(rows))
        sheet.write(b"</sheetData></worksheet>")


def _joined(strings: pa.ChunkedArray) -> bytes:
    """The concatenation of the strings: their data buffers, no copy per string."""
    out = []
    for chunk in strings.chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
        first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
        out.append(chunk.buffers()[2].to_pybytes()[first:last])
    return b"".join(out)


def write_workbook(path: Path, sheets: Mapping[str, pa.Table], *, compresslevel: int = 1) -> Path:
    """Write ``path`` with one sheet per table (sheet names as given, unique, valid).

    Headers are the column names; every table must be :func:`sheetable`. O(cells).
    """
    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as book:
        book.writestr("[Content_Types].xml", _content_types(len(names)))
        book.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        sheet_list = "".join(
            f'<sheet name={quoteattr(n)} sheetId="{i}" r:id="rId{i}"/>'
            for i, n in enumerate(names, start=1)
        )
        book.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>{sheet_list}</sheets></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        rels += f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{_PKG_REL}">{rels}</Relationships>',
        )
        book.writestr("xl/styles.xml", _STYLES)
        for i, name in enumerate(names, start=1):
            _write_sheet(book, f"xl/worksheets/sheet{i}.xml", sheets[name])
    return path


def _content_types(n_sheets: int) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for i in range(1, n_sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        f"{sheets}</Types>"
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
