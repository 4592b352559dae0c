"""The JSON Schema and the Markdown reference of every format, generated from the models.

    python -m zone_opt.formats.generate            # rewrite the files
    python -m zone_opt.formats.generate --check    # exit 1 if one is out of date

Schemas go to ``zone_opt/formats/schemas/<name>.schema.json`` (shipped in the package, for
editors: e.g. ``# yaml-language-server: $schema=<path>`` atop a YAML file), reference
pages to ``docs/formats/<name>.md``. ``tests/test_formats_generated.py`` fails when either
differs from what the models generate.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zone_opt.formats import FORMATS
from zone_opt.formats.base import (
    MAX_CNY,
    MAX_KM,
    MAX_KW,
    MAX_MWH,
    MAX_PRICE_CNY_PER_MWH,
    Format,
)
from zone_opt.formats.dispatch import PROFILE_RULES

__all__ = ["SCHEMAS", "json_schema", "main", "reference_markdown", "schema_text"]

#: Where the shipped schemas are.
SCHEMAS = Path(__file__).resolve().parent / "schemas"
#: The reference pages, in a source checkout.
DOCS = Path(__file__).resolve().parents[2] / "docs" / "formats"


def json_schema(fmt: Format[Any]) -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``fmt``'s files."""
    schema = fmt.model.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": fmt.title,
    }


def schema_text(fmt: Format[Any]) -> str:
    """:func:`json_schema` as the shipped file's text."""
    return json.dumps(json_schema(fmt), indent=2, ensure_ascii=False) + "\n"


# ---- the reference page -----------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    path: str
    type: str
    unit: str
    default: str
    bounds: str
    description: str


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    found: dict[str, Any] = schema["$defs"][ref.rsplit("/", 1)[-1]]
    return found


def _inner(schema: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The non-null alternative of ``node`` and whether null is allowed."""
    options = node.get("anyOf")
    if options is None:
        return _resolve(schema, node), False
    rest = [o for o in options if o.get("type") != "null"]
    return _resolve(schema, rest[0]), len(rest) < len(options)


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e6 else f"{x:g}"


def _bounds(node: dict[str, Any]) -> str:
    parts = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{sign} {_number(node[key])}")
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    if "minLength" in node and "maxLength" in node:
        parts.append(f"{node['minLength']}-{node['maxLength']} characters")
    names = node.get("propertyNames", {}).get("enum")
    if names:
        parts.append("keys: " + ", ".join(f"`{v}`" for v in names))
    if "minItems" in node and "prefixItems" not in node:
        parts.append(f"at least {node['minItems']} item(s)")
    return ", ".join(parts)


def _values(node: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a free-keyed mapping's values."""
    if isinstance(node.get("additionalProperties"), dict):
        found: dict[str, Any] = node["additionalProperties"]
        return found
    patterns = node.get("patternProperties")
    return next(iter(patterns.values())) if patterns else None


def _type(schema: dict[str, Any], node: dict[str, Any]) -> str:
    kind = node.get("type")
    if "prefixItems" in node:
        items = [_resolve(schema, i) for i in node["prefixItems"]]
        return "[" + ", ".join(i.get("x-unit") or i.get("type", "") for i in items) + "]"
    if kind == "array":
        return f"list of {_type(schema, _resolve(schema, node.get('items', {})))}"
    if kind == "object" and "properties" not in node:
        value = _resolve(schema, _values(node) or {})
        return f"mapping name → {_type(schema, value)}"
    if kind == "object":
        return "mapping"
    if "enum" in node:
        return "choice"
    return str(kind or "any")


def _default(node: dict[str, Any], outer: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in outer:
        value = outer["default"]
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    return ""


def _unit(schema: dict[str, Any], node: dict[str, Any]) -> str:
    if "x-unit" in node:
        return str(node["x-unit"])
    inside = node.get("items") if isinstance(node.get("items"), dict) else _values(node)
    return _unit(schema, _resolve(schema, inside)) if inside is not None else ""


def _children(schema: dict[str, Any], node: dict[str, Any], path: str) -> list[_Row]:
    """The rows under ``node`` (a mapping's keys, a list's items, a mapping's values)."""
    if "properties" in node:
        return _rows(schema, node, path)
    if node.get("type") == "array" and "prefixItems" not in node:
        return _children(schema, _resolve(schema, node.get("items", {})), f"{path}[]")
    values = _values(node)
    if node.get("type") == "object" and values is not None:
        return _children(schema, _resolve(schema, values), f"{path}.<name>")
    return []


def _entries(schema: dict[str, Any], node: dict[str, Any]) -> list[_Row]:
    """The one row of a document that is a mapping of free keys (the token file)."""
    value = _resolve(schema, _values(node) or {})
    return [
        _Row(
            path="`<key>`",
            type=_type(schema, value),
            unit="",
            default="",
            bounds=f"key: {_bounds(node.get('propertyNames', {}))}; value: {_bounds(value)}",
            description=" ".join(str(node.get("description", "")).split()),
        )
    ]


def _rows(schema: dict[str, Any], node: dict[str, Any], path: str) -> list[_Row]:
    out: list[_Row] = []
    required = set(node.get("required", ()))
    for name, outer in node.get("properties", {}).items():
        inner, nullable = _inner(schema, outer)
        key = f"{path}.{name}" if path else name
        description = " ".join(str(outer.get("description", "")).split())
        type_ = _type(schema, inner) + (" or null" if nullable else "")
        out.append(
            _Row(
                path=f"`{key}`",
                type=type_,
                unit=_unit(schema, inner),
                default=_default(inner, outer, name in required),
                bounds=_bounds(inner) or _bounds(_resolve(schema, inner.get("items", {}))),
                description=description,
            )
        )
        out += _children(schema, inner, key)
    return out


def _table(rows: Sequence[_Row]) -> str:
    head = "| key | type | unit | default | bounds | description |\n|---|---|---|---|---|---|\n"
    body = "".join(
        f"| {r.path} | {r.type} | {r.unit} | {r.default} | {r.bounds} | "
        f"{r.description.replace('|', '/')} |\n"
        for r in rows
    )
    return head + body


_CEILINGS = (
    f"Ceilings shared by the formats: power {_number(MAX_KW)} kW ({_number(MAX_KW / 1e3)} MW), "
    f"energy {_number(MAX_MWH)} MWh, sums of money {_number(MAX_CNY)} CNY, energy prices and "
    f"costs {_number(MAX_PRICE_CNY_PER_MWH)} CNY/MWh, distances {_number(MAX_KM)} km. They "
    "are far above any real park: they exist to catch slips such as `1e300` before a solver "
    "or an engine sees them."
)


def _profile_section() -> str:
    rows = "".join(
        f"| `{key}` | {rule.what} | {rule.unit} | [{_number(rule.low)}, {_number(rule.high)}] |\n"
        for key, rule in PROFILE_RULES.items()
    )
    return (
        "\n## The profile table\n\n"
        "CSV (time in the first column) or Parquet, on a regular time index. Each key "
        "below names a column; every value of it must be a finite number within its "
        "bounds. A problem names the column, the row and the time.\n\n"
        "| key naming the column | what | unit | bounds |\n|---|---|---|---|\n" + rows
    )


def reference_markdown(fmt: Format[Any]) -> str:
    """The reference page of ``fmt``: one row per key path."""
    schema = json_schema(fmt)
    root = _resolve(schema, schema)
    rows = _rows(schema, root, "")
    if not rows:
        rows = _entries(schema, root)
    example = f" Example: `{fmt.example}`." if fmt.example else ""
    doc = " ".join(str(root.get("description", "")).split())
    text = (
        f"# {fmt.title[0].upper()}{fmt.title[1:]}\n\n"
        f"<!-- Generated by `python -m zone_opt.formats.generate` from "
        f"`zone_opt/formats`; do not edit. -->\n\n"
        f"{doc}{example} JSON Schema: `zone_opt/formats/schemas/{fmt.name}.schema.json`.\n\n"
        "Unknown keys are errors (with the closest known key suggested). Every problem is "
        "reported with the file, the line, the key path, the value and the rule, e.g. "
        "`park.yaml:20: pv.kwp: -3000 must be >= 0 kWp`.\n\n"
        f"{_CEILINGS}\n\n## Keys\n\n" + _table(rows)
    )
    if fmt.name == "dispatch-scenario":
        text += _profile_section()
    return text


# ---- writing and checking ---------------------------------------------------------------


def _outputs(docs: Path) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for fmt in FORMATS:
        out[SCHEMAS / f"{fmt.name}.schema.json"] = schema_text(fmt)
        out[docs / f"{fmt.name}.md"] = reference_markdown(fmt)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zone_opt.formats.generate")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--docs", type=Path, default=DOCS, help="reference pages folder")
    args = parser.parse_args(argv)
    stale = []
    for path, text in _outputs(args.docs).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        sys.stderr.write(f"{'stale' if args.check else 'wrote'} {path}\n")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
