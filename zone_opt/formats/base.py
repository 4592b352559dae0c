"""What every file format shares: the YAML reader that remembers lines, the physical types
with their bounds, the strict model base and the conversion of every problem into one
:class:`~zone_opt.errors.Violation`.

A problem in a file names the file, the line, the key path in the user's names, the value
and the rule: ``park.yaml:21: pv.kwp: -3000 must be >= 0 kWp``. A document that came as
text (a gRPC request's field) has no file: its violations name the key path alone (with the
format's prefix, e.g. ``park.pv.kwp``) and the line goes at the end of the reason.

Bounds are physical, not merely finite: a park's capacities, loads, prices and costs each
have a ceiling well above any real park (:data:`MAX_KW` and friends, listed in the
reference pages under ``docs/formats/``), so a slip such as ``1e300`` is refused here, by
name and line, before an engine or a solver sees it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from zone_opt.errors import InvalidInputError, Violation, bounded
from zone_opt.formats.document import Document, Key, KeyPath, parse_yaml, syntax_error

__all__ = [
    "MAX_CNY",
    "MAX_KM",
    "MAX_KW",
    "MAX_MW",
    "MAX_MWH",
    "MAX_PRICE_CNY_PER_MWH",
    "Choice",
    "Document",
    "Flag",
    "Format",
    "Key",
    "KeyPath",
    "Model",
    "Quantity",
    "Text",
    "fail",
    "no_entries",
    "parse_path",
    "show",
]


# ---- ceilings (documented in docs/formats/*.md) ------------------------------------------

#: Largest power of any asset or connection, kW (10 GW: far above any park).
MAX_KW = 1e7
#: The same ceiling in MW.
MAX_MW = MAX_KW / 1e3
#: Largest energy of any store or daily need, MWh.
MAX_MWH = 1e6
#: Largest sum of money (a fixed cost, a budget, a start-up cost), CNY.
MAX_CNY = 1e12
#: Largest energy price or cost, CNY/MWh (1,000 CNY/kWh).
MAX_PRICE_CNY_PER_MWH = 1e6
#: Largest distance or coordinate magnitude, km.
MAX_KM = 1e5

_ERROR = "zone_opt"  # the type of every error raised by the checks of this package


def fail(reason: str, field: str | tuple[str | int, ...] | None = None) -> PydanticCustomError:
    """The error a check raises: ``reason`` in the user's words; ``field`` is the key (or
    the key path) under the checked mapping the error is about, for checks across keys."""
    context: dict[str, Any] = {"reason": reason}
    if field is not None:
        context["field"] = field
    return PydanticCustomError(_ERROR, "{reason}", context)


def _number_text(x: float) -> str:
    """``x`` as a person writes it: ``0``, ``100``, ``1e+07``, ``0.95``."""
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:g}"


def show(value: object, limit: int = 60) -> str:
    """A value as the file spells it, bounded to ``limit`` characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return bounded(repr(value), limit)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return bounded(text, limit)


# ---- types: numbers with units and bounds, text, choices --------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number in ``unit`` within bounds (``ge``/``gt`` below, ``le``/``lt`` above);
    ``integer`` for counts, hours and months. Used as ``Annotated[float, Quantity(...)]``.

    Accepts ints and floats (not booleans) and numeric text YAML 1.1 leaves unparsed such
    as ``4.5e6``; refuses NaN and infinities. An int stays an int (what the file said).
    """

    unit: str = ""
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    integer: bool = False
    hint: Callable[[object], str | None] | None = field(default=None, compare=False)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        for key, bound in (
            ("minimum", self.ge),
            ("maximum", self.le),
            ("exclusiveMinimum", self.gt),
            ("exclusiveMaximum", self.lt),
        ):
            if bound is not None:
                out[key] = int(bound) if self.integer else bound
        if self.unit:
            out["x-unit"] = self.unit
        return out

    def _in(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def check(self, value: object) -> float:
        kind = "a whole number" if self.integer else "a number"
        text: str | None = None
        if isinstance(value, str):
            text = value.strip()
            try:
                number: float = float(text)
            except ValueError:
                hint = self.hint(value) if self.hint is not None else None
                raise fail(hint or f"{show(value)} is not {kind}{self._unit_note()}") from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = value
        else:
            raise fail(f"{show(value)} is not {kind}{self._unit_note()}")
        shown = text if text is not None else show(value)
        if not math.isfinite(number):
            raise fail(f"{shown} is not a finite number{self._unit_note()}")
        if self.integer:
            if number != int(number):
                raise fail(f"{shown} is not a whole number{self._unit_note()}")
            number = int(number)
        self._bounds(number, shown)
        if text is not None or self.integer:
            return number
        return value  # type: ignore[return-value]  # an int stays an int

    def _unit_note(self) -> str:
        return f" ({self.unit})" if self.unit else ""

    def _bounds(self, number: float, shown: str) -> None:
        unit = self._in()
        if self.ge is not None and number < self.ge:
            raise fail(f"{shown} must be >= {_number_text(self.ge)}{unit}")
        if self.gt is not None and number <= self.gt:
            raise fail(f"{shown} must be > {_number_text(self.gt)}{unit}")
        if self.le is not None and number > self.le:
            raise fail(f"{shown} must be <= {_number_text(self.le)}{unit}")
        if self.lt is not None and number >= self.lt:
            raise fail(f"{shown} must be < {_number_text(self.lt)}{unit}")


@dataclass(frozen=True)
class Text:
    """A string of ``min_length`` to ``max_length`` characters; numbers are taken as their
    text (``id: 2025``) when ``numbers``; ``secret`` values are never repeated in errors."""

    min_length: int = 1
    max_length: int = 256
    numbers: bool = True
    secret: bool = False
    pattern: str | None = None
    rule: str = ""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out: dict[str, Any] = {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
        }
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def check(self, value: object) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool) and self.numbers:
            value = str(value)
        shown = "" if self.secret else f"{show(value)} "
        if not isinstance(value, str):
            raise fail(f"{shown}is not text")
        if len(value) < self.min_length:
            raise fail(
                f"{shown}must have at least {self.min_length} characters".strip()
                if self.min_length > 1
                else "must not be empty"
            )
        if len(value) > self.max_length:
            raise fail(f"{shown}is longer than {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise fail(f"{shown}must be {self.rule or 'of the form ' + self.pattern}")
        return value


def _suggest(value: object, allowed: Iterable[object]) -> str:
    """``; did you mean 'x'?`` for the closest of ``allowed`` to ``value``, else ``""``."""
    names = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Choice:
    """One of the values of a ``Literal`` (``Annotated[Literal["a", "b"], Choice()]``), with
    a suggestion for a near miss."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        values = get_args(source)

        def check(value: object) -> object:
            for allowed in values:
                if value == allowed and type(value) is type(allowed):
                    return value
            listed = ", ".join(str(v) for v in values)
            raise fail(f"{show(value)} is not one of: {listed}{_suggest(value, values)}")

        return core_schema.no_info_before_validator_function(check, handler(source))


def no_entries() -> Any:
    """The default of an optional mapping: empty (made anew for each model)."""
    return Field(default_factory=dict, json_schema_extra={"default": {}})


#: ``true`` or ``false`` (no ``"yes"`` strings or 0/1 taken for a boolean).
Flag = StrictBool

# ---- the strict model base --------------------------------------------------------------


class Model(BaseModel):
    """Base of every mapping in a file: immutable, and an unknown key is an error."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


M = TypeVar("M", bound=BaseModel)

# ---- formats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Format(Generic[M]):
    """One kind of file a user writes: its model and how its problems are named.

    ``label`` names the whole document when it has no file (``scenario``, ``park``);
    ``prefix`` starts the key paths of such a document (``park.`` for the park file, whose
    engine errors name ``park.<key>`` too). ``secret_keys``: the top-level keys are secrets
    (the token file), never repeated in a message.
    """

    name: str
    model: type[M]
    title: str
    label: str
    prefix: str = ""
    secret_keys: bool = False
    example: str = ""

    # -- reading

    def parse(
        self, text: str, source: str | None = None, *, context: Mapping[str, Any] | None = None
    ) -> tuple[M, Document]:
        """Validate YAML ``text`` (``source``: the file name shown in messages)."""
        return self.validate(self.document(text, source), context=context)

    def parse_json(
        self, text: str, source: str | None = None, *, context: Mapping[str, Any] | None = None
    ) -> tuple[M, Document]:
        """Validate JSON ``text``; lines are taken from the YAML reader where it agrees."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = ((), exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
            raise self.error(None, source, [problem]) from None
        try:
            _, lines, duplicates = parse_yaml(text)
        except yaml.YAMLError:
            lines, duplicates = {}, []
        doc = Document(data, source, lines, tuple(duplicates))
        return self.validate(doc, context=context)

    def load(self, path: Path, *, context: Mapping[str, Any] | None = None) -> tuple[M, Document]:
        """Read and validate the file at ``path`` (``.json`` as JSON, else YAML)."""
        text = self.read(path)
        if path.suffix == ".json":
            return self.parse_json(text, str(path), context=context)
        return self.parse(text, str(path), context=context)

    def read(self, path: Path) -> str:
        """The text of ``path``; an unreadable file is an error naming it."""
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (
                f"cannot read: {exc.strerror or exc}"
                if isinstance(exc, OSError)
                else (f"cannot read: not UTF-8 text ({exc.reason})")
            )
            raise self.error(None, str(path), [((), None, reason)]) from None

    def document(self, text: str, source: str | None = None) -> Document:
        """``text`` as a :class:`Document` (syntax errors raised, the schema not checked)."""
        try:
            data, lines, duplicates = parse_yaml(text)
        except yaml.YAMLError as exc:
            line, reason = syntax_error(exc)
            raise self.error(None, source, [((), line, reason)]) from None
        return Document(data, source, lines, tuple(duplicates))

    def validate(
        self, doc: Document, *, context: Mapping[str, Any] | None = None
    ) -> tuple[M, Document]:
        """The model of ``doc``'s data, or an InvalidInputError listing every problem."""
        found: list[tuple[KeyPath, int | None, str]] = [
            (path, line, f"repeated key (first on line {first})")
            for path, line, first in doc.duplicates
        ]
        if doc.data is None:
            found.append(((), None, f"is empty: expected a {self.title}{self._see()}"))
        elif not isinstance(doc.data, dict):
            line = 1 if doc.lines else None
            got = f"a {type(doc.data).__name__}" if self.secret_keys else show(doc.data)
            found.append(((), line, f"must be a mapping of keys, got {got}"))
        else:
            try:
                model = self.model.model_validate(doc.data, context=dict(context or {}))
            except ValidationError as exc:
                found += _one_per_typo([self._problem(e, doc) for e in exc.errors()])
            else:
                if not found:
                    return model, doc
        raise self.error(doc, doc.source, found)

    def _see(self) -> str:
        return f", e.g. {self.example}" if self.example else ""

    def from_data(self, data: object) -> M:
        """The model of already-parsed ``data`` (a dict from code; no lines)."""
        return self.validate(Document(data))[0]

    # -- problems

    def _problem(self, error: Any, doc: Document) -> tuple[KeyPath, int | None, str]:
        loc: KeyPath = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:
            loc = loc[:-1]
        if "field" in ctx:
            under = ctx["field"]
            loc = (*loc, *(under if isinstance(under, tuple) else (under,)))
        reason = self._reason(error, loc)
        if is_key and not self.secret_keys:
            reason = f"key {reason}"
        return loc, doc.line(loc), reason

    def _reason(self, error: Any, loc: KeyPath) -> str:
        kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
        secret = self.secret_keys and len(loc) <= 1
        shown = "the value" if secret else show(value)
        if kind == _ERROR:
            return str(ctx["reason"])
        if kind == "extra_forbidden":
            allowed = _keys_at(self.model, loc[:-1])
            suggestion = _suggest(loc[-1], allowed)
            return "unknown key" + (suggestion or f"; the keys here: {', '.join(allowed)}")
        if kind == "missing":
            return "is required"
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return f"must be a mapping of keys, got {shown}"
        if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
            return f"must be a list, got {shown}"
        if kind == "bool_type":
            return f"must be true or false, got {shown}"
        if kind == "too_short":
            need = ctx.get("min_length", 1)
            return f"needs at least {need} item{'s' if need != 1 else ''}"
        if kind == "too_long":
            return f"has more than {ctx.get('max_length')} items"
        if kind == "value_error":
            return str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        return f"{shown}: {error['msg']}"

    def path_text(self, path: KeyPath) -> str:
        """``grid.tariff.periods[1]`` for ``("grid", "tariff", "periods", 1)``."""
        out = ""
        for k, part in enumerate(path):
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                name = "token" if self.secret_keys and k == 0 else str(part)
                out += f".{name}" if out else name
        return out

    def error(
        self,
        doc: Document | None,
        source: str | None,
        problems: Iterable[tuple[KeyPath, int | None, str]],
    ) -> InvalidInputError:
        """One InvalidInputError with a violation per problem (path, line, reason), in the
        order of the lines (problems of the whole document last)."""
        ordered = sorted(
            problems,
            key=lambda p: (math.inf if p[1] is None else p[1], self.path_text(p[0])),
        )
        return InvalidInputError(
            None, [self.violation(path, line, reason, source) for path, line, reason in ordered]
        )

    def violation(
        self, path: KeyPath | str, line: int | None, reason: str, source: str | None
    ) -> Violation:
        """A violation naming ``path`` where it is: ``file:line: path`` with a file, the
        prefixed path and ``(line N)`` after the reason without one."""
        text = path if isinstance(path, str) else self.path_text(path)
        if source is not None:
            where = f"{source}:{line}" if line is not None else source
            return Violation(f"{where}: {text}" if text else where, None, reason)
        name = f"{self.prefix}{text}" if text else self.label
        return Violation(name, None, f"{reason} (line {line})" if line is not None else reason)

    def locate(self, error: InvalidInputError, doc: Document) -> InvalidInputError:
        """``error`` from the domain checks, each violation whose field is a key path of
        ``doc`` placed at its file and line (the others unchanged)."""
        out: list[Violation] = []
        moved = False
        for v in error.violations:
            path = parse_path(v.field.removeprefix(self.prefix))
            line = doc.lines.get(path) if path else None
            if line is None or v.row is not None:
                out.append(v)
                continue
            moved = True
            out.append(self.violation(path, line, v.reason, doc.source))
        return InvalidInputError(None, out) if moved else error


_TYPO = re.compile(r"^unknown key; did you mean '(.+)'\?$")


def _one_per_typo(
    problems: list[tuple[KeyPath, int | None, str]],
) -> list[tuple[KeyPath, int | None, str]]:
    """Problems where the "is required" of a key whose misspelling is reported says so:
    both are listed (the key is missing), and the reader sees they are one mistake."""
    meant: dict[KeyPath, tuple[Key, int | None]] = {}
    for path, line, reason in problems:
        match = _TYPO.match(reason)
        if match is not None:
            meant[(*path[:-1], match[1])] = (path[-1], line)
    out = []
    for path, line, reason in problems:
        said = reason
        if reason == "is required" and path in meant:
            typo, where = meant[path]
            on = f" on line {where}" if where is not None else ""
            said = f"is required (misspelt as {str(typo)!r}{on}?)"
        out.append((path, line, said))
    return out


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> KeyPath:
    """``("grid", "tariff", "periods", 1)`` for ``grid.tariff.periods[1]``."""
    return tuple(
        int(index) if index else name for name, index in _PART.findall(text) if name or index
    )


# ---- walking models by key path (the keys allowed where an unknown one was found) -------


def _unwrap(tp: Any) -> Any:
    """The type under ``Annotated[...]`` and ``X | None``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _step(tp: Any, part: Key) -> Any:
    """The type found at ``part`` inside ``tp`` (``None`` when there is none)."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(str(part))
        return None if info is None else info.annotation
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, tuple, set, frozenset) and args:
        if origin is tuple and args[-1] is not Ellipsis:
            return args[part] if isinstance(part, int) and part < len(args) else None
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _keys_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys the mapping at ``loc`` may have."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []
