//! The `sparse` and `stable` harnesses: the exact sparse assignment (with its dual
//! certificate) and deferred acceptance on fuzzed graphs.

use _core::matching::stable::deferred_acceptance;
use _core::matching::{solve_sparse, SparseOptions, SparseProblem, Start};
use arbitrary::{Arbitrary, Result, Unstructured};

use super::{init, reals, size, vec_of};

fn edges(u: &mut Unstructured<'_>, n_rows: usize, n_cols: usize) -> Result<(Vec<i64>, Vec<i64>)> {
    let e = size(u, 64)?.min(4096);
    let index = |u: &mut Unstructured<'_>, n: usize| -> Result<i64> {
        let raw = i64::arbitrary(u)?;
        // Mostly in range, sometimes anything (negative, out of range).
        Ok(if raw & 7 == 0 || n == 0 {
            raw >> 3
        } else {
            ((raw >> 3).unsigned_abs() % n as u64) as i64
        })
    };
    let mut rows = Vec::new();
    let mut cols = Vec::new();
    for _ in 0..e {
        rows.push(index(u, n_rows)?);
        cols.push(index(u, n_cols)?);
    }
    Ok((rows, cols))
}

fn sparse_case(u: &mut Unstructured<'_>) -> Result<()> {
    let n_rows = size(u, 24)?;
    let n_cols = size(u, 24)?;
    let (rows, cols) = edges(u, n_rows, n_cols)?;
    let wide = bool::arbitrary(u)?;
    let scores: Vec<i64> = vec_of(rows.len(), || {
        let s = i64::arbitrary(u)?;
        Ok(if wide { s } else { s % 1000 })
    })?;
    let perfect = bool::arbitrary(u)?;
    let start = if bool::arbitrary(u)? {
        Start::Auction
    } else {
        Start::Greedy
    };
    let prices = if bool::arbitrary(u)? {
        Some(reals(u, n_cols.min(64))?)
    } else {
        None
    };
    let Ok(sol) = solve_sparse(
        SparseProblem {
            rows: &rows,
            cols: &cols,
            scores: &scores,
            n_rows,
            n_cols,
        },
        SparseOptions {
            perfect,
            col_prices: prices.as_deref(),
            start,
        },
    ) else {
        return Ok(());
    };
    certify(&sol, &rows, &cols, &scores, perfect);
    Ok(())
}

/// The solution is a matching and, when feasible, its duals certify optimality.
fn certify(
    sol: &_core::matching::SparseSolution,
    rows: &[i64],
    cols: &[i64],
    w: &[i64],
    perfect: bool,
) {
    let scale = i128::from(sol.dual_scale);
    for (i, &j) in sol.row_to_col.iter().enumerate() {
        if j >= 0 {
            assert_eq!(sol.col_to_row[j as usize], i as i64, "mates disagree");
        }
    }
    if !sol.feasible {
        return;
    }
    let (u, p) = (&sol.u, &sol.p);
    for k in 0..rows.len() {
        let (i, j) = (rows[k] as usize, cols[k] as usize);
        assert!(
            i128::from(u[i]) + i128::from(p[j]) >= i128::from(w[k]) * scale,
            "edge {k} violates its dual constraint"
        );
    }
    let mut total = 0_i128;
    for (i, &j) in sol.row_to_col.iter().enumerate() {
        if j < 0 {
            assert!(perfect || u[i] == 0, "free row {i} with a positive dual");
            continue;
        }
        let best = (0..rows.len())
            .filter(|&k| rows[k] == i as i64 && cols[k] == j)
            .map(|k| w[k])
            .max();
        let Some(best) = best else {
            panic!("row {i} matched along a pair that is not an edge");
        };
        total += i128::from(best);
        assert_eq!(
            i128::from(u[i]) + i128::from(p[j as usize]),
            i128::from(best) * scale,
            "matched edge of row {i} not tight"
        );
    }
    for (j, &i) in sol.col_to_row.iter().enumerate() {
        assert!(p[j] >= 0, "negative price");
        assert!(i >= 0 || p[j] == 0, "free column {j} with a positive price");
    }
    assert_eq!(
        i128::from(sol.total),
        total,
        "total is not the matched scores' sum"
    );
}

/// `solve_sparse` on made-up shapes, edges, scores and warm prices.
pub fn sparse(data: &[u8]) {
    init();
    let _ = sparse_case(&mut Unstructured::new(data));
}

fn stable_case(u: &mut Unstructured<'_>) -> Result<()> {
    let n = size(u, 24)?;
    let m = size(u, 16)?.min(4096);
    let capacities: Vec<i64> = vec_of(m, || Ok(i64::from(i8::arbitrary(u)?)))?;
    let (rows, cols) = edges(u, n, m)?;
    let ps = reals(u, rows.len())?;
    let rs = reals(u, rows.len())?;
    let declared = if bool::arbitrary(u)? { Some(n) } else { None };
    let Ok(out) = deferred_acceptance(&rows, &cols, &ps, &rs, &capacities, declared) else {
        return Ok(());
    };
    let mut held = vec![0_i64; m];
    for (p, &r) in out.iter().enumerate() {
        if r >= 0 {
            let r = r as usize;
            assert!(r < m, "receiver out of range");
            held[r] += 1;
            assert!(
                (0..rows.len()).any(|k| rows[k] == p as i64 && cols[k] == r as i64),
                "proposer {p} matched along a pair that is not acceptable"
            );
        }
    }
    for (r, (&h, &c)) in held.iter().zip(&capacities).enumerate() {
        assert!(h <= c, "receiver {r} holds {h} over its capacity {c}");
    }
    Ok(())
}

/// `deferred_acceptance` on made-up sizes (declared proposer counts included).
pub fn stable(data: &[u8]) {
    init();
    let _ = stable_case(&mut Unstructured::new(data));
}

// --- Candidate index -----------------------------------------------------------------
