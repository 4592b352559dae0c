"""Readers for the single-source CFLP benchmark sets (Holmberg et al. 1999; Yang et al. 2012).

Both sets are stored in ``datasets/sscflp/`` as ``.tar.xz`` archives of the published text
files (see that folder's README for sources and the published optima in ``optima.csv``).
Every file is, whitespace separated::

    m n                       # sites, customers
    s_1 f_1                   # m lines: capacity, fixed opening cost
    ...
    d_1 ... d_n               # demands
    c_11 ... c_1n             # cost of serving customer j WHOLLY from site i, site-major
    ...
    c_m1 ... c_mn

Two line layouts exist: :attr:`Layout.ROWS` (Yang; the demand row and each site's cost row
on one line each) and :attr:`Layout.WRAPPED` (Holmberg: the demand block and each site's cost
row wrapped over lines of at most 10 values, no line running across two blocks). The reader checks
the layout line by line against the header and refuses a file that does not match, with an
:class:`InvalidInputError` naming the file and the 1-based line: a missing or extra value,
a non-numeric field (NUL padding, a stray word) or a short line is never read as data.
"""

from __future__ import annotations

import csv
import enum
import math
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = [
    "Layout",
    "PublishedOptimum",
    "parse_sscflp",
    "read_sscflp",
    "read_sscflp_optima",
    "sscflp_members",
]

WRAP = 10
"""Values per line in the wrapped (Holmberg) layout."""


class Layout(enum.StrEnum):
    """How the demand block and the cost rows are broken into lines."""

    ROWS = "rows"
    """One line of ``n`` demands, then one line of ``n`` costs per site (Yang et al.)."""
    WRAPPED = "wrapped"
    """Each block (demands, each site's cost row) wrapped over lines of at most 10 values,
    a block ending at a line end (Holmberg: 10 a line; p67 alternates 6 and 4)."""


def _fail(source: str, line: int | None, reason: str) -> InvalidInputError:
    where = f"{source}, line {line}" if line is not None else source
    return InvalidInputError.single("path", None, f"{where}: {reason}")


def _numbers(source: str, lineno: int, fields: list[str]) -> list[float]:
    out: list[float] = []
    for k, tok in enumerate(fields):
        try:
            value = float(tok)
        except ValueError:
            raise _fail(source, lineno, f"field {k + 1} {tok[:20]!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise _fail(source, lineno, f"field {k + 1} {tok!r} is not a finite number >= 0")
        out.append(value)
    return out


def parse_sscflp(text: str, layout: Layout | str, *, source: str, name: str) -> FacilityProblem:
    """Parse one instance's text (``source`` names it in errors) into a single-source,
    one-type :class:`FacilityProblem` named ``name``; per-unit costs are ``c_ij / d_j``.

    Raises :class:`InvalidInputError` ("<source>, line <k>: <reason>") on any mismatch
    between the header and the lines that follow. O(file size).
    """
    lay = Layout(layout)
    lines = [(k + 1, ln.split()) for k, ln in enumerate(text.splitlines())]
    body = [(k, f) for k, f in lines if f]  # blank lines carry nothing in either layout
    if not body:
        raise _fail(source, None, "empty file")
    k0, head = body[0]
    if len(head) != 2 or not all(t.isdigit() for t in head):
        raise _fail(source, k0, f"header {' '.join(head)[:40]!r} is not 'm n' (two integers)")
    m, n = int(head[0]), int(head[1])
    if m < 1 or n < 1:
        raise _fail(source, k0, f"header declares {m} sites and {n} customers")
    pos = 1
    sites: list[list[float]] = []
    for _ in range(m):
        if pos >= len(body):
            raise _fail(source, None, f"ends after {len(sites)} of the {m} site lines")
        k, fields = body[pos]
        if len(fields) != 2:
            raise _fail(
                source,
                k,
                f"site line {len(sites) + 1} of {m} has {len(fields)} fields, "
                "expected 2 (capacity, fixed cost)",
            )
        sites.append(_numbers(source, k, fields))
        pos += 1
    blocks: list[list[float]] = []
    for b in range(1 + m):
        what = "demand block" if b == 0 else f"cost row of site {b}"
        block: list[float] = []
        while len(block) < n:
            if pos >= len(body):
                raise _fail(source, None, f"ends inside the {what} ({len(block)} of {n} values)")
            k, fields = body[pos]
            left = n - len(block)
            if lay is Layout.ROWS and len(fields) != n:
                raise _fail(
                    source,
                    k,
                    f"{what}: {len(fields)} fields, expected {n} (rows layout, {m} x {n})",
                )
            if lay is Layout.WRAPPED and len(fields) > min(WRAP, left):
                raise _fail(
                    source,
                    k,
                    f"{what}: {len(fields)} fields, but a line holds at most "
                    f"{WRAP} and {left} value(s) are left in the block "
                    f"(wrapped layout, {m} x {n})",
                )
            block.extend(_numbers(source, k, fields))
            pos += 1
        blocks.append(block)
    if pos != len(body):
        k, fields = body[pos]
        raise _fail(
            source,
            k,
            f"{len(body) - pos} unexpected line(s) after the last cost row, "
            f"starting {' '.join(fields)[:24]!r}",
        )
    site_arr = np.array(sites)
    demand = np.array(blocks[0])
    whole = np.array(blocks[1:])  # (m, n)
    if (demand <= 0).any():
        j = int(np.argmax(demand <= 0))
        raise _fail(source, None, f"customer {j + 1} has demand {demand[j]:g}; must be > 0")
    return FacilityProblem.single_type(
        demand_ids=[f"c{j + 1}" for j in range(n)],
        site_ids=[f"s{i + 1}" for i in range(m)],
        demand=demand,
        capacity=site_arr[:, 0],
        fixed_cost_cny=site_arr[:, 1],
        transport_cost_cny_per_unit=(whole / demand[None, :]).T,
        single_source=True,
        name=name,
    )


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _fail(source, line, f"byte {raw[exc.start]:#04x} is not ASCII text") from None


def read_sscflp(
    path: str | Path, layout: Layout | str, *, member: str | None = None
) -> FacilityProblem:
    """Read one instance from a text file, or ``member`` (e.g. ``"p7"``) of a ``.tar.xz``.

    The problem is named after the member (or the file's stem). See :func:`parse_sscflp`.
    """
    p = Path(path)
    if member is None:
        return parse_sscflp(_decode(p.read_bytes(), str(p)), layout, source=str(p), name=p.stem)
    source = f"{p}:{member}"
    with tarfile.open(p, "r:*") as tar:
        try:
            info = tar.getmember(member)
        except KeyError:
            raise _fail(source, None, "no such member in the archive") from None
        handle = tar.extractfile(info)
        if handle is None:
            raise _fail(source, None, "member is not a regular file")
        raw = handle.read()
    return parse_sscflp(_decode(raw, source), layout, source=source, name=member)


def sscflp_members(path: str | Path) -> list[str]:
    """The instance names in an archive, in natural order (p1, p2, ..., p10, ...)."""
    with tarfile.open(Path(path), "r:*") as tar:
        names = [i.name for i in tar.getmembers() if i.isfile()]

    def key(s: str) -> tuple[str, int]:
        digits = "".join(ch for ch in s if ch.isdigit())
        return (s.rstrip("0123456789"), int(digits) if digits else -1)

    return sorted(names, key=key)


@dataclass(frozen=True)
class PublishedOptimum:
    """One row of ``optima.csv``: the set, the instance (``capa`` ... carry a capacity),
    its size and published single-source optimum, and where that value comes from."""

    set_name: str
    instance: str
    capacity: float | None
    sites: int
    customers: int
    optimum: float
    source: str


def read_sscflp_optima(path: str | Path) -> list[PublishedOptimum]:
    """Parse ``optima.csv`` (columns ``set, instance, capacity, sites, customers, optimum,
    source``; ``capacity`` empty unless the instance file leaves it open)."""
    out: list[PublishedOptimum] = []
    with Path(path).open(newline="") as f:
        for k, row in enumerate(csv.DictReader(f)):
            try:
                out.append(
                    PublishedOptimum(
                        set_name=row["set"],
                        instance=row["instance"],
                        capacity=float(row["capacity"]) if row["capacity"] else None,
                        sites=int(row["sites"]),
                        customers=int(row["customers"]),
                        optimum=float(row["optimum"]),
                        source=row["source"],
                    )
                )
            except (KeyError, ValueError) as exc:
                raise _fail(str(path), k + 2, f"bad optima row: {exc}") from None
    return out
