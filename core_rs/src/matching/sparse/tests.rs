//! Tests of [`super`]: optimality against an independent solver and the certificate.

use super::*;
use proptest::prelude::*;

/// Best total over all matchings (rows may stay unmatched), by enumeration.
fn brute(n: usize, m: usize, w: &[Option<i64>], perfect: bool) -> Option<i64> {
    fn rec(
        i: usize,
        n: usize,
        m: usize,
        w: &[Option<i64>],
        used: &mut [bool],
        perfect: bool,
    ) -> Option<i64> {
        if i == n {
            return Some(0);
        }
        let mut best = if perfect {
            None
        } else {
            rec(i + 1, n, m, w, used, perfect)
        };
        for j in 0..m {
            if let (false, Some(s)) = (used[j], w[i * m + j]) {
                used[j] = true;
                if let Some(r) = rec(i + 1, n, m, w, used, perfect) {
                    best = Some(best.map_or(s + r, |b: i64| b.max(s + r)));
                }
                used[j] = false;
            }
        }
        best
    }
    rec(0, n, m, w, &mut vec![false; m], perfect)
}

fn certify(sol: &SparseSolution, rows: &[i64], cols: &[i64], w: &[i64], perfect: bool) {
    for k in 0..rows.len() {
        let (i, j) = (rows[k] as usize, cols[k] as usize);
        assert!(
            sol.u[i] + sol.p[j] >= w[k] * sol.dual_scale,
            "edge {k} feasible"
        );
    }
    for (i, &j) in sol.row_to_col.iter().enumerate() {
        if j < 0 {
            if !perfect {
                assert_eq!(sol.u[i], 0);
            }
        } else {
            assert_eq!(sol.col_to_row[j as usize], i as i64);
            let best = (0..rows.len())
                .filter(|&k| rows[k] == i as i64 && cols[k] == j)
                .map(|k| w[k])
                .max()
                .unwrap();
            assert_eq!(sol.u[i] + sol.p[j as usize], best * sol.dual_scale, "tight");
        }
        if !perfect {
            assert!(sol.u[i] >= 0);
        }
    }
    for (j, &i) in sol.col_to_row.iter().enumerate() {
        assert!(sol.p[j] >= 0);
        if i < 0 {
            assert_eq!(sol.p[j], 0);
        }
    }
}

/// The row, column and score columns of an edge list.
fn columns(edges: &[(i64, i64, i64)]) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    (
        edges.iter().map(|e| e.0).collect(),
        edges.iter().map(|e| e.1).collect(),
        edges.iter().map(|e| e.2).collect(),
    )
}

fn instance(n: usize, m: usize, seed: u64, lo: i64, hi: i64, density: u64) -> Vec<(i64, i64, i64)> {
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut out = Vec::new();
    for i in 0..n {
        for j in 0..m {
            if next() % 100 < density {
                let w = lo + (next() % ((hi - lo + 1) as u64)) as i64;
                out.push((i as i64, j as i64, w));
            }
        }
    }
    out
}

fn run(n: usize, m: usize, edges: &[(i64, i64, i64)], perfect: bool, warm: Option<&[f64]>) {
    run_with(n, m, edges, perfect, warm, Start::Auction);
    run_with(n, m, edges, perfect, warm, Start::Greedy);
}

fn run_with(
    n: usize,
    m: usize,
    edges: &[(i64, i64, i64)],
    perfect: bool,
    warm: Option<&[f64]>,
    start: Start,
) {
    let (rows, cols, w) = columns(edges);
    let sol = solve_sparse(
        SparseProblem {
            rows: &rows,
            cols: &cols,
            scores: &w,
            n_rows: n,
            n_cols: m,
        },
        SparseOptions {
            perfect,
            col_prices: warm,
            start,
        },
    )
    .unwrap();
    let mut dense = vec![None; n * m];
    for &(i, j, s) in edges {
        let cell = &mut dense[(i as usize) * m + j as usize];
        *cell = Some(cell.map_or(s, |c: i64| c.max(s)));
    }
    let opt = brute(n, m, &dense, perfect);
    assert_eq!(sol.feasible, opt.is_some());
    if let Some(opt) = opt {
        assert_eq!(sol.total, opt);
        let recomputed: i64 = sol
            .row_to_col
            .iter()
            .enumerate()
            .filter(|(_, &j)| j >= 0)
            .map(|(i, &j)| dense[i * m + j as usize].unwrap())
            .sum();
        assert_eq!(recomputed, opt);
        certify(&sol, &rows, &cols, &w, perfect);
    }
}

#[test]
fn tiny_cases() {
    run(0, 0, &[], false, None);
    run(3, 0, &[], false, None);
    run(2, 2, &[(0, 0, 5), (0, 1, 4), (1, 0, 4)], false, None);
    run(2, 2, &[(0, 0, -5), (1, 1, 0)], false, None);
    run(2, 2, &[(0, 0, -5), (1, 1, -1)], true, None);
    run(2, 1, &[(0, 0, 3), (1, 0, 2)], true, None);
}

#[test]
fn bad_input_names_field_and_row() {
    let e = solve_sparse(
        SparseProblem {
            rows: &[0, 5],
            cols: &[0, 0],
            scores: &[1, 1],
            n_rows: 2,
            n_cols: 2,
        },
        SparseOptions {
            perfect: false,
            col_prices: None,
            start: Start::Auction,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid input: rows (row 1): index 5 outside 0..2"
    );
    let e = solve_sparse(
        SparseProblem {
            rows: &[0],
            cols: &[-1],
            scores: &[1],
            n_rows: 2,
            n_cols: 2,
        },
        SparseOptions {
            perfect: false,
            col_prices: None,
            start: Start::Auction,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("cols (row 0)"));
    assert!(solve_sparse(
        SparseProblem {
            rows: &[0],
            cols: &[0, 1],
            scores: &[1],
            n_rows: 2,
            n_cols: 2
        },
        SparseOptions {
            perfect: false,
            col_prices: None,
            start: Start::Auction
        }
    )
    .is_err());
    assert!(solve_sparse(
        SparseProblem {
            rows: &[0],
            cols: &[0],
            scores: &[i64::MAX],
            n_rows: 2,
            n_cols: 2
        },
        SparseOptions {
            perfect: false,
            col_prices: None,
            start: Start::Auction
        }
    )
    .is_err());
}

/// The phased repair alone, from both sides, starting from an empty matching and
/// random prices (row duals at their feasible minimum), reaches the optimum.
fn run_phased(n: usize, m: usize, edges: &[(i64, i64, i64)], prices: &[i64]) {
    let (rows, cols, w) = columns(edges);
    let g = Graph::<i64>::from_edges(n, &rows, &cols, &w, |v| v > 0);
    let gt = g.transpose(m);
    let mut p = prices[..m].to_vec();
    let mut u: Vec<i64> = (0..n)
        .map(|i| {
            g.edges(i)
                .map(|e| g.w[e] - p[g.adj[e] as usize])
                .fold(0, i64::max)
        })
        .collect();
    let (mut x, mut y) = (vec![NONE; n], vec![NONE; m]);
    phased_repair(&g, &mut u, &mut p, &mut x, &mut y, &mut Phases::new(m));
    phased_repair(&gt, &mut p, &mut u, &mut y, &mut x, &mut Phases::new(n));
    let to_i64 = |a: &[u32]| -> Vec<i64> {
        a.iter()
            .map(|&k| if k == NONE { -1 } else { i64::from(k) })
            .collect()
    };
    let total = (0..n)
        .filter(|&i| x[i] != NONE)
        .map(|i| u[i] + p[x[i] as usize])
        .sum();
    let sol = SparseSolution {
        row_to_col: to_i64(&x),
        col_to_row: to_i64(&y),
        u,
        p,
        feasible: true,
        total,
        dual_scale: 1,
    };
    let mut dense = vec![None; n * m];
    for &(i, j, s) in edges {
        let cell = &mut dense[(i as usize) * m + j as usize];
        *cell = Some(cell.map_or(s, |c: i64| c.max(s)));
    }
    assert_eq!(Some(sol.total), brute(n, m, &dense, false));
    certify(&sol, &rows, &cols, &w, false);
}

/// The forward/reverse auction alone, run down to epsilon 1 with a scale above the
/// row count, ends epsilon-complementary-slack and with an optimal matching (checked
/// against the shortest-augmenting-path solver).
#[test]
fn optional_auction_alone_is_optimal() {
    use super::super::auction::{optional_auction, OptionalPlan};
    for seed in 1..40u64 {
        let (n, m) = (40 + (seed as usize % 7), 35);
        let edges = instance(n, m, seed, -10, 60, 12);
        let (rows, cols, w) = columns(&edges);
        let g = Graph::<i32>::from_edges(n, &rows, &cols, &w, |v| v > 0);
        let scale = 64;
        let mut p = vec![0i64; m];
        let plan = OptionalPlan {
            scale,
            eps_start: 60 * scale / 4,
            factor: 4,
            eps_stop: 1,
        };
        let out = optional_auction(&g, m, &mut p, &plan);
        let (x, y) = (&out.row_to_col, &out.col_to_row);
        let mut total = 0;
        let mut pi = vec![0i64; n];
        for i in 0..n {
            if x[i] != NONE {
                assert_eq!(y[x[i] as usize], i as u32);
                let best = g
                    .edges(i)
                    .filter(|&e| g.adj[e] == x[i])
                    .map(|e| g.w[e].get())
                    .max()
                    .unwrap();
                total += best;
                pi[i] = best * scale - p[x[i] as usize];
                assert!(pi[i] >= 0);
            }
        }
        for j in 0..m {
            assert!(p[j] >= 0);
            if y[j] == NONE {
                assert_eq!(p[j], 0, "unmatched column at price 0");
            }
        }
        for (i, &profit) in pi.iter().enumerate() {
            for e in g.edges(i) {
                assert!(
                    profit + p[g.adj[e] as usize] >= g.w[e].get() * scale - 1,
                    "1-CS"
                );
            }
        }
        let exact = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Greedy,
            },
        )
        .unwrap();
        assert_eq!(total, exact.total, "seed {seed}");
    }
}

/// Larger random instances: the auction start (with its early stop and rounding)
/// and the shortest-path start agree, and both certify.
#[test]
fn auction_and_shortest_paths_agree_on_larger_instances() {
    for seed in 1..6u64 {
        let (n, m) = (400, 380);
        let edges = instance(n, m, seed * 7919, 1, 1000, 4);
        let (rows, cols, w) = columns(&edges);
        let a = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Auction,
            },
        )
        .unwrap();
        let b = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Greedy,
            },
        )
        .unwrap();
        assert_eq!(a.total, b.total);
        certify(&a, &rows, &cols, &w, false);
        certify(&b, &rows, &cols, &w, false);
    }
}

/// The auction with 32-bit duals makes exactly the bids of the one with 64-bit duals.
#[test]
fn narrow_and_wide_duals_agree() {
    use super::super::auction::{optional_auction, OptionalPlan};
    for seed in 1..20u64 {
        let (n, m) = (300, 280);
        let edges = instance(n, m, seed * 31, 1, 1000, 5);
        let (rows, cols, w) = columns(&edges);
        let g = Graph::<i32>::from_edges(n, &rows, &cols, &w, |v| v > 0);
        let plan = OptionalPlan {
            scale: 512,
            eps_start: 1000 * 512 / 4,
            factor: 8,
            eps_stop: 1,
        };
        assert!(narrow_duals(1000 * 512, &vec![0; m]));
        let mut wide = vec![0i64; m];
        let mut narrow = vec![0i32; m];
        let a = optional_auction(&g, m, &mut wide, &plan);
        let b = optional_auction(&g, m, &mut narrow, &plan);
        assert_eq!(a.row_to_col, b.row_to_col, "seed {seed}");
        assert_eq!(a.col_to_row, b.col_to_row, "seed {seed}");
        let narrow: Vec<i64> = narrow.into_iter().map(i64::from).collect();
        assert_eq!(wide, narrow, "seed {seed}");
    }
}

/// Scores whose scaled range overflows 32 bits (and warm prices that do) take the
/// 64-bit duals and stay exact.
#[test]
fn wide_duals_when_scores_exceed_32_bits() {
    assert!(!narrow_duals(i64::from(i32::MAX) + 1, &[0]));
    assert!(!narrow_duals(1, &[i64::from(i32::MAX) + 1]));
    assert!(narrow_duals(i64::from(i32::MAX), &[i64::from(i32::MAX)]));
    for seed in 1..4u64 {
        let (n, m) = (200, 190);
        let edges = instance(n, m, seed * 101, 1, 50_000_000, 6);
        let (rows, cols, w) = columns(&edges);
        // F = 256 here, so the largest scaled score is near 1.3e10 > 2^31.
        let a = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Auction,
            },
        )
        .unwrap();
        let b = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: None,
                start: Start::Greedy,
            },
        )
        .unwrap();
        assert_eq!(a.total, b.total);
        certify(&a, &rows, &cols, &w, false);
        let warm = vec![1e8; m];
        let c = solve_sparse(
            SparseProblem {
                rows: &rows,
                cols: &cols,
                scores: &w,
                n_rows: n,
                n_cols: m,
            },
            SparseOptions {
                perfect: false,
                col_prices: Some(&warm),
                start: Start::Auction,
            },
        )
        .unwrap();
        assert_eq!(c.total, b.total);
        certify(&c, &rows, &cols, &w, false);
    }
}

proptest! {
    #[test]
    fn phased_repair_is_exact(n in 0usize..7, m in 0usize..7, seed in any::<u64>(),
                              lo in -5i64..5, span in 0i64..30, density in 10u64..100,
                              prices in proptest::collection::vec(0i64..40, 7)) {
        let edges = instance(n, m, seed, lo, lo + span, density);
        run_phased(n, m, &edges, &prices);
    }

    #[test]
    fn matches_brute_force(n in 0usize..6, m in 0usize..6, seed in any::<u64>(),
                           lo in -20i64..5, span in 0i64..30, density in 10u64..100,
                           perfect in any::<bool>()) {
        let edges = instance(n, m, seed, lo, lo + span, density);
        run(n, m, &edges, perfect, None);
    }

    #[test]
    fn warm_start_is_exact(n in 0usize..6, m in 0usize..6, seed in any::<u64>(),
                           span in 1i64..30, perfect in any::<bool>(),
                           prices in proptest::collection::vec(0.0f64..40.0, 6)) {
        let edges = instance(n, m, seed, 1, span, 60);
        run(n, m, &edges, perfect, Some(&prices[..m]));
    }
}
