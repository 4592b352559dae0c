//! Tests of [`super`]: cached bids equal scans; the auction's prices start an exact solve.

use super::*;
use proptest::prelude::*;

/// Best and second best values over the edges of `i`, both at least the outside
/// option's 0.
fn exact(g: &Graph<i32>, f: i64, duals: &[i64], i: usize) -> (i64, i64) {
    let mut values: Vec<i64> = g
        .edges(i)
        .map(|e| g.w[e].get() * f - duals[g.adj[e] as usize])
        .collect();
    values.extend([0, 0]);
    values.sort_unstable_by(|a, b| b.cmp(a));
    (values[0], values[1])
}

proptest! {
    /// While the duals only rise, the cached bid agrees with a full scan: the exact best
    /// value and a far node achieving it whenever it exceeds epsilon, and an upper bound
    /// on the second best value (an upper bound at most epsilon otherwise).
    #[test]
    fn cached_bids_match_scans(
        n in 1usize..6, m in 1usize..8,
        edges in proptest::collection::vec((0usize..6, 0usize..8, 1i64..50), 0..40),
        start in proptest::collection::vec(0i64..200, 8),
        rises in proptest::collection::vec((0usize..8, 0i64..60, 1i64..40), 0..60),
    ) {
        let f = 4;
        let edges: Vec<_> = edges.into_iter().filter(|&(i, j, _)| i < n && j < m).collect();
        let rows: Vec<i64> = edges.iter().map(|e| e.0 as i64).collect();
        let cols: Vec<i64> = edges.iter().map(|e| e.1 as i64).collect();
        let w: Vec<i64> = edges.iter().map(|e| e.2).collect();
        let g = Graph::<i32>::from_edges(n, &rows, &cols, &w, |_| true);
        let mut duals = start[..m].to_vec();
        let mut tops = vec![Top2::STALE; n];
        for (i, top) in tops.iter_mut().enumerate() {
            let (v1, v2, j1, w1) = best_scan(&g, f, &duals, i, top);
            prop_assert_eq!((v1, v2), exact(&g, f, &duals, i));
            if j1 != NONE {
                prop_assert_eq!(w1 - duals[j1 as usize], v1);
            }
        }
        for (j, rise, eps) in rises {
            duals[j % m] += rise;
            for (i, top) in tops.iter_mut().enumerate() {
                let (b1, b2) = exact(&g, f, &duals, i);
                let (v1, v2, j1, w1) = best_cached(&g, f, &duals, i, eps, top);
                if b1 > eps {
                    prop_assert_eq!(v1, b1);
                    prop_assert!(j1 != NONE);
                    prop_assert_eq!(w1 - duals[j1 as usize], v1);
                    prop_assert!(v2 >= b2 && v2 <= v1);
                } else {
                    prop_assert!(v1 >= b1 && v1 <= eps.max(b1));
                }
            }
        }
    }
}
