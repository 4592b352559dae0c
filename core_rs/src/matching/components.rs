//! Connected components of a bipartite graph by union-find, fed edges in blocks so the
//! caller never holds more than one block of row indices: nodes are the rows `0..n_rows`
//! and the columns `n_rows..n_rows + n_cols`; a component's root is its smallest node.

use crate::error::{CoreError, CoreResult};

/// Join the components of the edges `(rows[k], cols[k])` in `parent`, a forest over the
/// `parent.len()` nodes in which every node points at its root and every root is the
/// smallest node of its component (`parent = 0..n` to start). On return the forest is
/// again flat with the same property, so it can take the next block of edges, and
/// `parent[x]` is the smallest node of `x`'s component over all edges given so far.
/// O(block + nodes).
///
/// # Errors
/// [`CoreError::InvalidInput`] when `n_rows` exceeds the nodes, when a row is outside
/// `0..n_rows` or a column outside `0..parent.len() - n_rows` (naming the edge), when
/// `rows` and `cols` differ in length, or when `parent` is not such a flat forest; `parent`
/// is left unchanged then.
pub fn union_edges(
    parent: &mut [i64],
    rows: &[i64],
    cols: &[i64],
    n_rows: usize,
) -> CoreResult<()> {
    let n = parent.len();
    if n_rows > n {
        return Err(CoreError::invalid(
            "n_rows",
            None,
            format!("exceeds the {n} nodes"),
        ));
    }
    if rows.len() != cols.len() {
        return Err(CoreError::invalid(
            "cols",
            None,
            format!("has {} entries, rows has {}", cols.len(), rows.len()),
        ));
    }
    for (x, &p) in parent.iter().enumerate() {
        // flat and rooted at the smallest node: parent[x] <= x and parent[parent[x]] = parent[x]
        let ok = usize::try_from(p).is_ok_and(|p| p <= x && parent[p] == p as i64);
        if !ok {
            return Err(CoreError::invalid(
                "parent",
                Some(x),
                "not a flat forest of smallest roots",
            ));
        }
    }
    let n_cols = n - n_rows;
    for (k, (&r, &c)) in rows.iter().zip(cols).enumerate() {
        if !usize::try_from(r).is_ok_and(|r| r < n_rows) {
            return Err(CoreError::invalid(
                "rows",
                Some(k),
                format!("index {r} outside 0..{n_rows}"),
            ));
        }
        if !usize::try_from(c).is_ok_and(|c| c < n_cols) {
            return Err(CoreError::invalid(
                "cols",
                Some(k),
                format!("index {c} outside 0..{n_cols}"),
            ));
        }
    }
    for (&r, &c) in rows.iter().zip(cols) {
        // in range: checked above
        let a = find(parent, r as usize);
        let b = find(parent, n_rows + c as usize);
        if a != b {
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            parent[hi] = lo as i64;
        }
    }
    // Every parent points below its node, so in increasing order a node's parent is
    // already flat when the node is reached.
    for x in 0..n {
        let p = parent[x] as usize;
        parent[x] = parent[p];
    }
    Ok(())
}

/// The root of `x`, halving the path on the way (parents only move to smaller nodes).
fn find(parent: &mut [i64], mut x: usize) -> usize {
    loop {
        let p = parent[x] as usize;
        if p == x {
            return x;
        }
        let g = parent[p] as usize;
        parent[x] = g as i64;
        x = g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(n: usize) -> Vec<i64> {
        (0..n as i64).collect()
    }

    #[test]
    fn joins_across_blocks_to_the_smallest_node() {
        // rows 0..4, cols 4..7: 0-c1, 3-c1, 1-c0, 2 alone, c2 alone
        let mut p = flat(7);
        union_edges(&mut p, &[0], &[1], 4).unwrap();
        union_edges(&mut p, &[3, 1], &[1, 0], 4).unwrap();
        assert_eq!(p, vec![0, 1, 2, 0, 1, 0, 6]);
    }

    #[test]
    fn equals_a_naive_labelling_on_random_graphs() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as i64
        };
        for _ in 0..200 {
            let (nr, nc) = (1 + next(30) as usize, 1 + next(30) as usize);
            let m = next(40) as usize;
            let rows: Vec<i64> = (0..m).map(|_| next(nr as u64)).collect();
            let cols: Vec<i64> = (0..m).map(|_| next(nc as u64)).collect();
            let mut p = flat(nr + nc);
            for (a, b) in [(0, m / 3), (m / 3, m)] {
                union_edges(&mut p, &rows[a..b], &cols[a..b], nr).unwrap();
            }
            // naive: relax labels to the minimum over edges until nothing changes
            let mut lab = flat(nr + nc);
            loop {
                let mut changed = false;
                for (&r, &c) in rows.iter().zip(&cols) {
                    let (u, v) = (r as usize, nr + c as usize);
                    let low = lab[u].min(lab[v]);
                    changed |= lab[u] != low || lab[v] != low;
                    lab[u] = low;
                    lab[v] = low;
                }
                if !changed {
                    break;
                }
            }
            assert_eq!(p, lab);
        }
    }

    #[test]
    fn refuses_bad_input_by_field_and_leaves_parent() {
        let mut p = flat(5);
        let e = union_edges(&mut p, &[0, 3], &[0, 0], 3).unwrap_err();
        assert!(e.to_string().contains("rows"), "{e}");
        let e = union_edges(&mut p, &[0], &[2], 3).unwrap_err();
        assert!(e.to_string().contains("cols"), "{e}");
        let e = union_edges(&mut p, &[0], &[0, 1], 3).unwrap_err();
        assert!(e.to_string().contains("cols"), "{e}");
        let e = union_edges(&mut p, &[], &[], 6).unwrap_err();
        assert!(e.to_string().contains("n_rows"), "{e}");
        assert_eq!(p, flat(5));
        let mut bad = vec![0, 2, 2];
        let e = union_edges(&mut bad, &[], &[], 1).unwrap_err();
        assert!(e.to_string().contains("parent"), "{e}");
        let mut bad = vec![-1];
        assert!(union_edges(&mut bad, &[], &[], 1).is_err());
    }
}
