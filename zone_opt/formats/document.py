"""A YAML file as the schema layer reads it: its data, and the line of every key.

:func:`parse_yaml` composes the file into nodes first, so each mapping key and sequence item
keeps its line (for messages like ``park.yaml:20: pv.kwp: ...``) and repeated keys are
found, then constructs the data as ``yaml.safe_load`` would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Document", "Key", "KeyPath", "parse_yaml", "syntax_error"]

Key = str | int
KeyPath = tuple[Key, ...]


@dataclass(frozen=True)
class Document:
    """A parsed file: its data, the name shown in messages (``None`` for text from a
    request) and the line of each key path (mapping keys and sequence items)."""

    data: Any
    source: str | None = None
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    duplicates: tuple[tuple[KeyPath, int, int], ...] = ()
    """(path, line, line of the first occurrence) of each repeated key."""

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path`` or of its nearest parent the file shows."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


_MAX_LINES = 200_000  # entries in a document's line map (bounds aliases that fan out)


def _walk(node: yaml.Node, loader: yaml.SafeLoader) -> tuple[dict[KeyPath, int], list[Any]]:
    """The line of each key path under ``node``, and the repeated keys."""
    lines: dict[KeyPath, int] = {}
    duplicates: list[tuple[KeyPath, int, int]] = []
    stack: list[tuple[yaml.Node, KeyPath, frozenset[int]]] = [(node, (), frozenset())]
    while stack and len(lines) < _MAX_LINES:
        current, path, above = stack.pop()
        if id(current) in above:
            continue  # a recursive alias
        inside = above | {id(current)}
        if isinstance(current, yaml.MappingNode):
            seen: dict[Key, int] = {}
            for key_node, value_node in current.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                key = loader.construct_object(key_node)
                if not isinstance(key, str | int) or isinstance(key, bool):
                    key = str(key)
                line = key_node.start_mark.line + 1
                if key in seen:
                    duplicates.append(((*path, key), line, seen[key]))
                seen.setdefault(key, line)
                lines.setdefault((*path, key), line)
                stack.append((value_node, (*path, key), inside))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i), inside))
    return lines, duplicates


def syntax_error(exc: yaml.YAMLError) -> tuple[int | None, str]:
    """The line and a one-line reason of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    if context and problem.startswith("but "):
        problem = f"{context}, {problem}"
    if mark is None:
        return None, f"not valid YAML: {problem}"
    return mark.line + 1, f"not valid YAML: {problem} (column {mark.column + 1})"


def parse_yaml(text: str) -> tuple[Any, dict[KeyPath, int], list[Any]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines, duplicates = _walk(node, loader)
        loader.constructed_objects = {}
        return loader.construct_document(node), lines, duplicates
    finally:
        loader.dispose()
