"""The report font: Noto Sans CJK SC, shipped with the package (``fonts/README.md``).

Static images are drawn by vl-convert, which is told about the font's folder once per
process. Each HTML page embeds a subset of the font holding just the characters of its own
text, as a base64 ``@font-face``: a few kilobytes, so a report reads the same on a machine
with no CJK font and no network.

``python -m zone_opt.reports.fonts --from FILE.ttc`` remakes the shipped subset.
"""

from __future__ import annotations

import argparse
import base64
import functools
import io
import logging
from pathlib import Path

import vl_convert
from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

__all__ = ["FONT_FAMILY", "FONT_FILE", "font_face_css", "register_static_font"]

FONT_DIR = Path(__file__).with_name("fonts")
FONT_FILE = FONT_DIR / "NotoSansSC-Regular-GB2312.otf"
#: The family name inside the font file; charts and pages ask for it by this name.
FONT_FAMILY = "Noto Sans CJK SC"
#: What pages fall back to for characters outside the subset.
# fontTools logs every subset it makes at INFO; a command's stderr is for the user.
logging.getLogger("fontTools").setLevel(logging.WARNING)
FALLBACK = "'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"


@functools.cache
def register_static_font() -> None:
    """Make the shipped font known to vl-convert (once per process)."""
    vl_convert.register_font_directory(str(FONT_DIR))


@functools.lru_cache(maxsize=64)
def _subset_b64(characters: str) -> str:
    # Bounding boxes kept from the whole font (a subset's glyphs lie within them): working
    # them out anew draws every kept CFF glyph, a third of the subset's time. No new
    # timestamp either, so a page's bytes depend on its text only.
    font = TTFont(FONT_FILE, recalcBBoxes=False, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def font_face_css(text: str) -> str:
    """An ``@font-face`` rule embedding the glyphs ``text`` uses. O(distinct characters)."""
    characters = "".join(sorted({c for c in text if c.isprintable()} | set("0123456789")))
    data = _subset_b64(characters)
    return (
        f"@font-face {{ font-family: '{FONT_FAMILY}'; font-style: normal; font-weight: 400; "
        f"src: url(data:font/otf;base64,{data}) format('opentype'); }}"
    )


def _gb2312_and_symbols() -> set[int]:
    points: set[int] = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                points.add(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    blocks = [
        (0x20, 0x7F),  # Basic Latin
        (0xA0, 0x180),  # Latin-1, Latin Extended-A
        (0x2000, 0x20C0),  # punctuation, super/subscripts, currency
        (0x2100, 0x2300),  # letterlike, arrows, mathematical operators
        (0x25A0, 0x2600),  # geometric shapes
        (0x3000, 0x3040),  # CJK symbols and punctuation
        (0xFF00, 0xFFF0),  # full-width forms
    ]
    for low, high in blocks:
        points |= set(range(low, high))
    return points


def _remake(source: Path) -> None:  # pragma: no cover - run by hand, documented in README
    font = TTCollection(source).fonts[2]  # face 2 of NotoSansCJK-Regular.ttc is SC
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_gb2312_and_symbols())
    subsetter.subset(font)
    font.save(FONT_FILE)


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, required=True)
    _remake(parser.parse_args().source)
