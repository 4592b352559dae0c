"""Split a candidate graph into parts solved apart, for the distributed path
(:mod:`zone_opt.matching.distributed`).

Three steps, each a function of the graph alone (never of the executor or its number of
workers), so the parts, and so the result, are the same wherever they run:

* :func:`row_components`: the connected components of the bipartite graph (enterprises
  and spaces as nodes, candidate pairs as edges), by union-find in the Rust core fed
  :data:`EDGE_BLOCK` edges at a time. A component's label is its smallest enterprise row.
* :func:`plan_components`: whole components packed in label order into tasks of about
  ``edges_per_task`` edges; a component of more than ``giant_edges`` edges is set apart.
* :func:`cut_along_parks`: a giant component cut into groups of parks (recursive
  bisection of the parks' coordinates at the edge-weighted median); each enterprise
  goes with the group holding most of its edges, its other edges are dropped.

Parts are sets of enterprise rows; the graph is stored by row (CSR), so a part's edges
are its rows' edge ranges (:func:`edges_of_rows`), made when its task is, and the
planning holds O(rows) memory, never a per-edge array. A part is solved on local
indices (:func:`relabel`): its rows and columns numbered in increasing global order, so
every tie rule that prefers the lower index decides as on the whole graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from zone_opt import _core

__all__ = [
    "EDGE_BLOCK",
    "ComponentPlan",
    "Cut",
    "Part",
    "component_labels",
    "cut_along_parks",
    "edge_blocks",
    "edges_of_rows",
    "plan_components",
    "relabel",
    "row_components",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Edges handled at a time where a pass over the whole graph would otherwise make
#: per-edge temporaries (union-find, the cut, the certificate check).
EDGE_BLOCK = 1 << 22


def edge_blocks(indptr: IntArray, size: int | None = None) -> Iterator[tuple[int, IntArray]]:
    """The graph's edges in blocks of ``size`` (default :data:`EDGE_BLOCK`): per block,
    its first edge and the row of each of its edges (a CSR's rows, never all expanded at
    once)."""
    size = EDGE_BLOCK if size is None else size
    n_edges = int(indptr[-1])
    for a in range(0, n_edges, size):
        b = min(n_edges, a + size)
        first = int(np.searchsorted(indptr, a, side="right")) - 1
        last = int(np.searchsorted(indptr, b, side="left"))
        counts = np.diff(np.minimum(np.maximum(indptr[first : last + 1], a), b))
        yield a, np.repeat(np.arange(first, first + counts.size, dtype=np.int64), counts)


def edges_of_rows(indptr: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """The edges of ``rows`` (increasing) in a CSR: their indices, increasing, and the
    row of each."""
    starts = indptr[rows]
    counts = indptr[rows + 1] - starts
    edge_rows = np.repeat(rows, counts)
    first_of_row = np.cumsum(counts) - counts
    edges = np.arange(edge_rows.size, dtype=np.int64) + np.repeat(starts - first_of_row, counts)
    return edges, edge_rows


def _roots(blocks: Iterator[tuple[IntArray, IntArray]], n_rows: int, n_cols: int) -> IntArray:
    parent = np.arange(n_rows + n_cols, dtype=np.int64)
    for rows, cols in blocks:
        _core.union_edges(
            parent,
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(cols, dtype=np.int64),
            n_rows,
        )
    return parent


def component_labels(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> IntArray:
    """Per edge ``(rows[k], cols[k])``, the smallest enterprise row of its connected
    component (space ``c`` is node ``n_rows + c``; every edge has an enterprise, so a
    component's smallest node is one). O(edges + nodes)."""
    n = rows.size
    parent = _roots(
        ((rows[a : a + EDGE_BLOCK], cols[a : a + EDGE_BLOCK]) for a in range(0, n, EDGE_BLOCK)),
        n_rows,
        n_cols,
    )
    labels: IntArray = parent[rows]
    return labels


def row_components(indptr: IntArray, cols: IntArray, n_cols: int) -> IntArray:
    """Per enterprise row of a CSR graph, the smallest row of its connected component, or
    -1 for a row without edges. O(edges + nodes) time, O(nodes + block) memory."""
    n_rows = indptr.size - 1
    parent = _roots(((r, cols[a : a + r.size]) for a, r in edge_blocks(indptr)), n_rows, n_cols)
    labels: IntArray = np.where(np.diff(indptr) > 0, parent[:n_rows], -1)
    return labels


@dataclass(frozen=True)
class ComponentPlan:
    """How the rows of a graph, and so its edges, are split into tasks.

    Attributes:
        n_components: connected components with at least one edge.
        batches: per task, its enterprise rows, increasing (whole components).
        giants: per component set apart to be cut, its rows, increasing.
        largest_edges: edges of the largest component.
    """

    n_components: int
    batches: list[IntArray]
    giants: list[IntArray]
    largest_edges: int


def plan_components(
    row_labels: IntArray, row_edges: IntArray, *, edges_per_task: int, giant_edges: int | None
) -> ComponentPlan:
    """Pack whole components, in the order of their labels (``row_labels``: per row, its
    component, -1 for none), into tasks: a component goes to task
    ``floor(edges before it / edges_per_task)`` (``row_edges``: edges per row), so a task
    holds about ``edges_per_task`` edges and a component is never split. Components of
    more than ``giant_edges`` edges (None: none) are set apart in ``giants``.
    O(rows log rows)."""
    rows = np.flatnonzero(row_labels >= 0)
    if rows.size == 0:
        return ComponentPlan(0, [], [], 0)
    order = np.argsort(row_labels[rows], kind="stable")
    rows = rows[order]  # by component, increasing within each
    labels = row_labels[rows]
    starts = np.flatnonzero(np.concatenate(([True], labels[1:] != labels[:-1])))
    n_rows = np.diff(np.append(starts, rows.size))
    sizes = np.add.reduceat(row_edges[rows], starts)
    giant = sizes > giant_edges if giant_edges is not None else np.zeros(sizes.size, dtype=np.bool_)
    giants = [rows[s : s + n] for s, n, g in zip(starts, n_rows, giant, strict=True) if g]
    small = ~giant
    before = np.cumsum(np.where(small, sizes, 0)) - np.where(small, sizes, 0)
    task = before // edges_per_task
    batches: list[IntArray] = []
    if small.any():
        keep = np.repeat(small, n_rows)
        row_task = np.repeat(task, n_rows)[keep]
        cuts = np.flatnonzero(np.diff(row_task)) + 1
        batches = [np.sort(b) for b in np.split(rows[keep], cuts)]
    return ComponentPlan(
        n_components=int(sizes.size),
        batches=batches,
        giants=giants,
        largest_edges=int(sizes.max()),
    )


def _park_groups(
    lat: FloatArray, lon: FloatArray, weight: FloatArray, groups: int
) -> npt.NDArray[np.int64]:
    """Group of each park: recursive bisection at the weighted median of the wider of
    the two coordinates (longitude scaled by the cosine of the mean latitude), into
    ``groups`` groups (a group with one park is not split further). Deterministic: ties
    in a coordinate go by park order."""
    out = np.zeros(lat.size, dtype=np.int64)
    stack: list[tuple[IntArray, int, int]] = [(np.arange(lat.size, dtype=np.int64), 0, groups)]
    while stack:
        idx, first, count = stack.pop()
        if count <= 1 or idx.size <= 1:
            out[idx] = first
            continue
        x = lon[idx] * np.cos(np.radians(float(np.mean(lat[idx]))))
        y = lat[idx]
        coord = x if np.ptp(x) >= np.ptp(y) else y
        order = np.lexsort((idx, coord))
        left_count = count // 2
        cum = np.cumsum(weight[idx][order])
        target = cum[-1] * left_count / count
        split = int(np.searchsorted(cum, target, side="left")) + 1
        split = min(max(split, 1), idx.size - 1)
        stack.append((idx[order[split:]], first + left_count, count - left_count))
        stack.append((idx[order[:split]], first, left_count))
    return out


@dataclass(frozen=True)
class Cut:
    """A giant component cut along park boundaries.

    Attributes:
        rows: the component's enterprise rows, increasing.
        home: the group of each of ``rows`` (the group holding most of its edges).
        park_group: the group of each park, -1 for parks outside the component.
        dropped_edges: edges crossing groups (an enterprise's edges outside its home).
    """

    rows: IntArray
    home: IntArray
    park_group: IntArray
    dropped_edges: int

    def pieces(
        self, indptr: IntArray, cols: IntArray, space_park: IntArray
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Per non-empty group in order: the edges kept in it (increasing) and their rows.
        A piece's enterprises and parks belong to it alone."""
        for g in range(int(self.park_group.max()) + 1):
            rows = self.rows[self.home == g]
            if rows.size == 0:
                continue
            edges, edge_rows = edges_of_rows(indptr, rows)
            keep = self.park_group[space_park[cols[edges]]] == g
            if keep.any():
                yield edges[keep], edge_rows[keep]


def cut_along_parks(
    rows: IntArray,
    indptr: IntArray,
    cols: IntArray,
    space_park: IntArray,
    park_lat: FloatArray,
    park_lon: FloatArray,
    groups: int,
) -> Cut:
    """Cut the component of ``rows`` (increasing; a CSR graph ``indptr``, ``cols``) into
    groups of parks.

    The component's parks are grouped by :func:`_park_groups` (edge counts as weights);
    each enterprise joins the group holding most of its edges (the lower group on a
    tie) and keeps only its edges into that group's parks (:meth:`Cut.pieces`); the
    other edges (crossing park groups) are dropped. Two passes over the component's
    edges in blocks of about :data:`EDGE_BLOCK`. O(edges + rows x groups)."""
    n_parks = park_lat.size
    row_edges = indptr[rows + 1] - indptr[rows]
    bounds = np.searchsorted(np.cumsum(row_edges), np.arange(0, int(row_edges.sum()), EDGE_BLOCK))
    spans = list(zip(bounds, np.append(bounds[1:], rows.size), strict=True))
    weight = np.zeros(n_parks, dtype=np.float64)
    for a, b in spans:
        edges, _ = edges_of_rows(indptr, rows[a:b])
        weight += np.bincount(space_park[cols[edges]], minlength=n_parks)
    present = np.flatnonzero(weight > 0)
    park_group = np.full(n_parks, -1, dtype=np.int64)
    park_group[present] = _park_groups(
        park_lat[present], park_lon[present], weight[present], groups
    )
    home = np.zeros(rows.size, dtype=np.int64)
    dropped = 0
    for a, b in spans:
        edges, edge_rows = edges_of_rows(indptr, rows[a:b])
        edge_group = park_group[space_park[cols[edges]]]
        local = np.searchsorted(rows[a:b], edge_rows)
        counts = np.bincount(local * groups + edge_group, minlength=(b - a) * groups)
        home[a:b] = np.argmax(counts.reshape(b - a, groups), axis=1)
        dropped += int(np.count_nonzero(edge_group != home[a:b][local]))
    return Cut(rows, home, park_group, dropped)


@dataclass(frozen=True)
class Part:
    """Where a part's local indices go in the whole graph.

    Attributes:
        row_ids: the global enterprise row of each local row (increasing).
        col_ids: the global space column of each local column (increasing).
    """

    row_ids: IntArray
    col_ids: IntArray


def relabel(rows: IntArray, cols: IntArray, n_cols: int) -> tuple[Part, IntArray, IntArray]:
    """The part spanned by the edges ``(rows, cols)`` (``rows`` non-decreasing, as a CSR
    keeps them; ``cols`` below ``n_cols``) and the edges in its local indices (rows and
    columns numbered in increasing global order). O(edges + n_cols)."""
    first = np.ones(rows.size, dtype=np.bool_)
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    row_ids = rows[first]
    local_rows = np.cumsum(first, dtype=np.int64) - 1
    seen = np.zeros(n_cols, dtype=np.bool_)
    seen[cols] = True
    col_ids = np.flatnonzero(seen)
    local_of = np.cumsum(seen, dtype=np.int64) - 1
    return Part(row_ids=row_ids, col_ids=col_ids), local_rows, local_of[cols]
