"""Reader for Beasley's OR-Library capacitated warehouse location files (``cap41`` ... ``capc``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.facilities.problem import FacilityProblem

__all__ = ["read_orlib_cap", "read_orlib_optima"]


def read_orlib_cap(
    path: str | Path, *, capacity: float | None = None, single_source: bool = False
) -> FacilityProblem:
    """Read a ``cap`` file into a one-type :class:`FacilityProblem`.

    Format (whitespace separated): ``m n``, then ``m`` lines ``capacity fixed_cost``, then per
    customer its demand followed by the ``m`` costs of serving *all* of its demand from each
    site. ``capa``/``capb``/``capc`` carry the literal word ``capacity`` instead of a number:
    pass ``capacity=`` (one of the values in ``capopt.txt``). Costs per unit are the file's
    costs divided by the demand. O(file size).
    """
    p = Path(path)
    tokens = p.read_text().split()
    if len(tokens) < 2:
        raise InvalidInputError.single("path", None, f"{p}: not an OR-Library cap file")
    try:
        m, n = int(tokens[0]), int(tokens[1])
    except ValueError:
        raise InvalidInputError.single("path", None, f"{p}: header is not 'm n'") from None
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) != expected:
        raise InvalidInputError.single(
            "path", None, f"{p}: {len(tokens)} tokens, expected 2 + 2m + n(1+m) = {expected}"
        )
    site = tokens[2 : 2 + 2 * m]
    raw_cap = site[0::2]
    if any(t.lower() == "capacity" for t in raw_cap):
        if capacity is None:
            raise InvalidInputError.single(
                "capacity", None, f"{p} leaves capacity open: pass capacity= (see capopt.txt)"
            )
        caps = np.full(m, float(capacity))
    else:
        caps = np.array([float(t) for t in raw_cap])
        if capacity is not None:
            caps = np.full(m, float(capacity))
    fixed = np.array([float(t) for t in site[1::2]])
    body = np.array([float(t) for t in tokens[2 + 2 * m :]]).reshape(n, 1 + m)
    demand = body[:, 0]
    whole_cost = body[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(demand[:, None] > 0, whole_cost / demand[:, None], 0.0)
    return FacilityProblem.single_type(
        demand_ids=[f"c{j + 1}" for j in range(n)],
        site_ids=[f"s{i + 1}" for i in range(m)],
        demand=demand,
        capacity=caps,
        fixed_cost_cny=fixed,
        transport_cost_cny_per_unit=per_unit,
        single_source=single_source,
        name=p.stem,
    )


def read_orlib_optima(path: str | Path) -> dict[tuple[str, float | None], float]:
    """Parse ``capopt.txt``: ``{(instance, capacity or None): optimum}``.

    Lines ``cap41 1040444.375`` give small instances (capacity None); ``capa 19240822.449
    (capacity 8000)`` and continuation lines ``18438046.543 (capacity 10000)`` the large ones.
    """
    out: dict[tuple[str, float | None], float] = {}
    current = ""
    for line in Path(path).read_text().splitlines():
        m = re.match(r"^\s*(cap\w+)?\s+([0-9.]+)\s*(?:\(capacity\s+([0-9.]+)\))?\s*$", line)
        if not m:
            continue
        if m.group(1):
            current = m.group(1)
        if not current:
            continue
        cap = float(m.group(3)) if m.group(3) else None
        out[(current, cap)] = float(m.group(2))
    return out
