"""The drawing process of :mod:`zone_opt.reports.drawing`, and the one drawing function.

Run as a script, ``python -P drawing_child.py --font-dir DIR --vl-version V``: it imports
nothing of zone_opt (nor pandas or Altair), so it is ready in a fraction of a second. It
reads one JSON request a line from standard input (``spec``, ``path``, ``lang``), draws
the chart to ``path`` with :func:`draw_png` and answers one JSON line: ``{"ok": true}``,
or ``{"ok": false, "error": ...}`` (the parent then draws that chart itself, raising
vl-convert's error there). Exits when its input closes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import vl_convert

#: The smallest chart that makes vl-convert load its runtime, Vega-Lite and the font.
WARM_SPEC: dict[str, Any] = {
    "data": {"values": [{"a": 1}]},
    "mark": "bar",
    "encoding": {"x": {"field": "a", "type": "quantitative"}},
}


def draw_png(
    spec: Mapping[str, Any], path: Path, *, lang: str, vl_version: str, scale: float = 2
) -> Path:
    """Draw one Vega-Lite spec to PNG (numbers and dates in ``lang``'s locale). O(marks).
    The font directory must have been registered with vl-convert."""
    locale: Literal["zh-CN", "en-US"] = "zh-CN" if lang == "zh" else "en-US"
    data = vl_convert.vegalite_to_png(
        dict(spec),
        vl_version=vl_version,
        scale=scale,
        format_locale=locale,
        time_format_locale=locale,
    )
    path.write_bytes(data)
    return path


def serve(requests: IO[bytes], replies: IO[bytes], vl_version: str) -> None:
    """Answer every request line until ``requests`` ends."""
    vl_convert.vegalite_to_svg(WARM_SPEC, vl_version=vl_version)
    for line in requests:
        try:
            request = json.loads(line)
            draw_png(
                request["spec"], Path(request["path"]), lang=request["lang"], vl_version=vl_version
            )
            reply: dict[str, object] = {"ok": True}
        except Exception as exc:  # answered; the parent redraws this chart and raises
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply).encode() + b"\n")
        replies.flush()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--font-dir", required=True)
    parser.add_argument("--vl-version", required=True)
    args = parser.parse_args(argv)
    vl_convert.register_font_directory(args.font_dir)
    # Replies on a private copy of standard output; anything a library prints goes to
    # standard error instead of into the replies.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, replies, args.vl_version)


if __name__ == "__main__":
    main()
