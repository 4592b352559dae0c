"""Split a candidate graph into parts solved apart, for the distributed path
(:mod:`zone_opt.matching.distributed`).

Three steps, each a function of the graph alone (never of the executor or its number of
workers), so the parts, and so the result, are the same wherever they run:

* :func:`component_labels`: the connected components of the bipartite graph
  (enterprises and spaces as nodes, candidate pairs as edges), by union-find in numpy:
  hook each root onto the smallest root an edge joins it to, then jump pointers to the
  roots, until no edge joins two roots. A component's label is its smallest enterprise
  row.
* :func:`plan_components`: whole components packed in label order into tasks of about
  ``edges_per_task`` edges; a component of more than ``giant_edges`` edges is set apart.
* :func:`cut_along_parks`: a giant component cut into groups of parks (recursive
  bisection of the parks' coordinates at the edge-weighted median); each enterprise
  goes with the group holding most of its edges, its other edges are dropped.

A part is solved on local indices (:func:`relabel`): its rows and columns numbered in
increasing global order, so every tie rule that prefers the lower index decides as on
the whole graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ComponentPlan",
    "Part",
    "component_labels",
    "cut_along_parks",
    "plan_components",
    "relabel",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def component_labels(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> IntArray:
    """Per edge, the smallest enterprise row of its connected component.

    Union-find over ``n_rows + n_cols`` nodes (space ``c`` is node ``n_rows + c``) in
    numpy: each round hooks every root that an edge joins to a smaller root onto the
    smallest such root (``np.minimum.at``; parents only decrease, so no cycle forms),
    jumps pointers until every node points at its root, and drops the edges whose ends
    now share a root. A component's root is its smallest node, which is an enterprise
    (every edge has one). O(edges) per round; a few rounds (5 on a 300,000-enterprise
    region of 127 components).
    """
    parent = np.arange(n_rows + n_cols, dtype=np.int64)
    u, v = rows, cols + n_rows
    while u.size:
        pu, pv = parent[u], parent[v]
        split = pu != pv
        if not split.any():
            break
        u, v, pu, pv = u[split], v[split], pu[split], pv[split]
        np.minimum.at(parent, np.maximum(pu, pv), np.minimum(pu, pv))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    labels: IntArray = parent[rows]
    return labels


@dataclass(frozen=True)
class ComponentPlan:
    """How the edges of a graph are split into tasks.

    Attributes:
        n_components: connected components with at least one edge.
        batches: per task, the indices of its edges (whole components, in edge order).
        giants: per component set apart to be cut, the indices of its edges.
        largest_edges: edges of the largest component.
    """

    n_components: int
    batches: list[IntArray]
    giants: list[IntArray]
    largest_edges: int


def plan_components(
    labels: IntArray, *, edges_per_task: int, giant_edges: int | None
) -> ComponentPlan:
    """Pack whole components, in the order of their labels, into tasks: a component goes
    to task ``floor(edges before it / edges_per_task)``, so a task holds about
    ``edges_per_task`` edges and a component is never split. Components of more than
    ``giant_edges`` edges (None: none) are set apart in ``giants``. Within a task the
    edges keep their order in the graph. O(edges log edges)."""
    if labels.size == 0:
        return ComponentPlan(0, [], [], 0)
    order = np.argsort(labels, kind="stable")
    comp_labels, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    giant = sizes > giant_edges if giant_edges is not None else np.zeros(sizes.size, dtype=np.bool_)
    giants = [order[s : s + n] for s, n, g in zip(starts, sizes, giant, strict=True) if g]
    small = ~giant
    before = np.cumsum(np.where(small, sizes, 0)) - np.where(small, sizes, 0)
    task = before // edges_per_task
    batches: list[IntArray] = []
    if small.any():
        keep = np.repeat(small, sizes)
        edge_task = np.repeat(task, sizes)[keep]
        kept = order[keep]
        cuts = np.flatnonzero(np.diff(edge_task)) + 1
        batches = [np.sort(b) for b in np.split(kept, cuts)]
    return ComponentPlan(
        n_components=int(comp_labels.size),
        batches=batches,
        giants=[np.sort(g) for g in giants],
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


def cut_along_parks(
    rows: IntArray,
    edge_park: IntArray,
    park_lat: FloatArray,
    park_lon: FloatArray,
    groups: int,
) -> list[IntArray]:
    """The pieces of one component: per group of parks, the indices (into ``rows``) of
    the edges kept in it.

    The component's parks are grouped by :func:`_park_groups` (edge counts as weights);
    each enterprise joins the group holding most of its edges (the lower group on a
    tie) and keeps only its edges into that group's parks, so a piece's enterprises and
    spaces belong to it alone; the other edges (crossing park groups) are dropped.
    Empty pieces are left out. O(edges + rows x groups)."""
    parks, park_of_edge = np.unique(edge_park, return_inverse=True)
    weight = np.bincount(park_of_edge, minlength=parks.size).astype(np.float64)
    group_of_park = _park_groups(park_lat[parks], park_lon[parks], weight, groups)
    edge_group = group_of_park[park_of_edge]
    row_ids, row_of_edge = np.unique(rows, return_inverse=True)
    counts = np.bincount(
        row_of_edge * groups + edge_group, minlength=row_ids.size * groups
    ).reshape(row_ids.size, groups)
    home = np.argmax(counts, axis=1)
    kept = np.flatnonzero(edge_group == home[row_of_edge])
    by_group = kept[np.argsort(edge_group[kept], kind="stable")]
    bounds = np.searchsorted(edge_group[by_group], np.arange(groups + 1))
    pieces = [by_group[bounds[g] : bounds[g + 1]] for g in range(groups)]
    return [p for p in pieces if p.size]


@dataclass(frozen=True)
class Part:
    """Where a part's local indices go in the whole graph.

    Attributes:
        row_ids: the global enterprise row of each local row (increasing).
        col_ids: the global space column of each local column (increasing).
    """

    row_ids: IntArray
    col_ids: IntArray


def relabel(rows: IntArray, cols: IntArray) -> tuple[Part, IntArray, IntArray]:
    """The part spanned by the edges ``(rows, cols)`` and the edges in its local indices
    (rows and columns numbered in increasing global order). O(edges log edges)."""
    row_ids, local_rows = np.unique(rows, return_inverse=True)
    col_ids, local_cols = np.unique(cols, return_inverse=True)
    return (
        Part(row_ids=row_ids, col_ids=col_ids),
        local_rows.astype(np.int64),
        local_cols.astype(np.int64),
    )
