//! Dense linear assignment: Jonker-Volgenant (LAPJV) on a row-major cost matrix.
//!
//! Minimises `sum c[i][x[i]]` over matchings of size `min(n, m)`. Square problems use the
//! full LAPJV (column reduction, reduction transfer, two passes of augmenting row
//! reduction, then shortest augmenting paths); rectangular ones with `n < m` use a greedy
//! row reduction at zero column potentials, then shortest augmenting paths, which keep the
//! potentials of unmatched columns at zero; `n > m` is solved on the transpose, as scipy
//! does. Worst case O(n^2 m) time, O(n m) for the transposed copy only when `n > m`.
//! The core is in [`super::dense_lap`].
//!
//! Integer matrices whose range allows it are solved in `i32` (a narrowed copy, half the
//! memory traffic of `i64`, eight lanes to an AVX2 vector), exactly as in `i64`: the
//! same bound that keeps the `i64` solver from overflowing is applied at 32 bits.
//!
//! The result carries potentials `u`, `v` with `u_i + v_j <= c_ij` on every pair, equality
//! on matched pairs, and `v_j <= 0`, zero on unmatched columns when `n < m` (or the mirror
//! statement for rows when `n > m`): the LP duals that certify optimality.

use rayon::prelude::*;

pub use super::cost::Cost;
use super::dense_lap::{lap, Lap, NONE};
use crate::error::{CoreError, CoreResult};

/// An optimal dense assignment in the orientation of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseSolution<C> {
    /// Column of each row, `-1` when the row is unmatched (only when `n > m`).
    pub row_to_col: Vec<i64>,
    /// Row of each column, `-1` when the column is unmatched (only when `n < m`).
    pub col_to_row: Vec<i64>,
    /// Row potentials `u`.
    pub u: Vec<C>,
    /// Column potentials `v`.
    pub v: Vec<C>,
    /// The largest `|cost|` (for round-off tolerances of float costs).
    pub max_abs: f64,
}

/// Solve `min sum c[i][x_i]` for the row-major `n x m` matrix `costs`.
pub fn solve_dense<C: Cost>(costs: &[C], n: usize, m: usize) -> CoreResult<DenseSolution<C>> {
    solve_dense_signed(costs, n, m, false)
}

/// Solve `min sum s c[i][x_i]` with `s = -1` when `negate` (a maximisation of `costs`),
/// else `s = 1`; the potentials are those of `s c`.
pub fn solve_dense_signed<C: Cost>(
    costs: &[C],
    n: usize,
    m: usize,
    negate: bool,
) -> CoreResult<DenseSolution<C>> {
    let expected = n
        .checked_mul(m)
        .ok_or_else(|| CoreError::invalid("scores", None, "shape overflows"))?;
    if costs.len() != expected {
        return Err(CoreError::invalid(
            "scores",
            None,
            format!("has {} entries, shape says {n} x {m}", costs.len()),
        ));
    }
    if n.max(m) >= NONE as usize {
        return Err(CoreError::invalid(
            "scores",
            None,
            format!("{n} x {m} has a side of 2^32 - 1 or more"),
        ));
    }
    // Narrowing checks its own (tighter) range; only a wide matrix needs the full check.
    if let Some((narrow, max_abs)) = C::narrow(costs, n + m, negate) {
        let s = oriented(&narrow, n, m)?;
        return Ok(DenseSolution {
            row_to_col: s.row_to_col,
            col_to_row: s.col_to_row,
            u: s.u.into_iter().map(C::widen).collect(),
            v: s.v.into_iter().map(C::widen).collect(),
            max_abs,
        });
    }
    let Some(max_abs) = C::usable_max_abs(costs, n + m) else {
        for (k, &value) in costs.iter().enumerate() {
            if let Some(why) = value.unusable(n + m) {
                return Err(CoreError::invalid("scores", Some(k / m.max(1)), why));
            }
        }
        return Err(CoreError::invalid(
            "scores",
            None,
            "holds an unusable entry",
        ));
    };
    let s = if negate {
        let flipped: Vec<C> = costs.par_iter().map(|&c| C::ZERO - c).collect();
        oriented(&flipped, n, m)
    } else {
        oriented(costs, n, m)
    }?;
    Ok(DenseSolution { max_abs, ..s })
}

/// LAPJV in the orientation with no more rows than columns, mapped back (the transpose,
/// when needed, asks the memory budget first).
fn oriented<C: Cost>(costs: &[C], n: usize, m: usize) -> CoreResult<DenseSolution<C>> {
    if n <= m {
        let Lap { x, y, u, v } = lap(costs, n, m);
        Ok(DenseSolution {
            row_to_col: to_i64(&x),
            col_to_row: to_i64(&y),
            u,
            v,
            max_abs: 0.0,
        })
    } else {
        let t = transpose(costs, n, m)?;
        let Lap { x, y, u, v } = lap(&t, m, n);
        Ok(DenseSolution {
            row_to_col: to_i64(&y),
            col_to_row: to_i64(&x),
            u: v,
            v: u,
            max_abs: 0.0,
        })
    }
}

/// The `m x n` transpose of the row-major `n x m` matrix `c` (`n >= 1`): strips of
/// `TILE` columns in parallel, each through `TILE x TILE` blocks staged in a small
/// buffer, so that every cache line is read, and written, in one burst (rows a power
/// of two apart share cache sets: a direct strided copy evicts its own lines).
fn transpose<C: Cost>(c: &[C], n: usize, m: usize) -> CoreResult<Vec<C>> {
    const TILE: usize = 16;
    let len = c.len();
    let mut t = crate::budget::try_with_capacity("scores", len)?;
    super::graph::huge_pages(&t.spare_capacity_mut()[..len]);
    t.spare_capacity_mut()[..len]
        .par_chunks_mut(TILE * n)
        .enumerate()
        .for_each(|(b, out)| {
            let j0 = b * TILE;
            let w = out.len() / n;
            let mut block = [C::ZERO; TILE * TILE];
            for i0 in (0..n).step_by(TILE) {
                let h = TILE.min(n - i0);
                for ii in 0..h {
                    let start = (i0 + ii) * m + j0;
                    block[ii * TILE..ii * TILE + w].copy_from_slice(&c[start..start + w]);
                }
                for jj in 0..w {
                    let dst = &mut out[jj * n + i0..jj * n + i0 + h];
                    for (ii, slot) in dst.iter_mut().enumerate() {
                        *slot = std::mem::MaybeUninit::new(block[ii * TILE + jj]);
                    }
                }
            }
        });
    // SAFETY: the strips cover `t[..len]` (`len = m * n`, one strip per `TILE` columns,
    // each of `w * n` slots), and every slot `jj * n + i` of a strip was written above.
    unsafe { t.set_len(len) };
    Ok(t)
}

fn to_i64(a: &[u32]) -> Vec<i64> {
    a.iter()
        .map(|&k| if k == NONE { -1 } else { i64::from(k) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::cost::exact_limit;
    use proptest::prelude::*;

    fn brute(c: &[i64], n: usize, m: usize) -> i64 {
        // Best over injective maps from the shorter side.
        fn rec(c: &[i64], n: usize, m: usize, i: usize, used: &mut Vec<bool>, t: bool) -> i64 {
            let rows = if t { m } else { n };
            let cols = if t { n } else { m };
            if i == rows {
                return 0;
            }
            let mut best = i64::MAX;
            for j in 0..cols {
                if !used[j] {
                    used[j] = true;
                    let cost = if t { c[j * m + i] } else { c[i * m + j] };
                    let r = rec(c, n, m, i + 1, used, t);
                    if r != i64::MAX {
                        best = best.min(cost + r);
                    }
                    used[j] = false;
                }
            }
            best
        }
        let t = n > m;
        let mut used = vec![false; if t { n } else { m }];
        rec(c, n, m, 0, &mut used, t)
    }

    fn check(c: &[i64], n: usize, m: usize) {
        let s = solve_dense(c, n, m).unwrap();
        let mut total = 0;
        let k = n.min(m);
        let mut matched = 0;
        for i in 0..n {
            let j = s.row_to_col[i];
            if j >= 0 {
                let j = j as usize;
                assert_eq!(s.col_to_row[j], i as i64);
                total += c[i * m + j];
                matched += 1;
                assert_eq!(s.u[i] + s.v[j], c[i * m + j], "tight");
            }
            for j in 0..m {
                assert!(s.u[i] + s.v[j] <= c[i * m + j], "feasible");
            }
        }
        assert_eq!(matched, k);
        if n < m {
            for j in 0..m {
                assert!(s.v[j] <= 0);
                if s.col_to_row[j] < 0 {
                    assert_eq!(s.v[j], 0);
                }
            }
        }
        if n > m {
            for i in 0..n {
                assert!(s.u[i] <= 0);
                if s.row_to_col[i] < 0 {
                    assert_eq!(s.u[i], 0);
                }
            }
        }
        if k > 0 {
            assert_eq!(total, brute(c, n, m));
        }
    }

    #[test]
    fn small_known() {
        let c = [4, 1, 3, 2, 0, 5, 3, 2, 2];
        let s = solve_dense(&c, 3, 3).unwrap();
        let total: i64 = (0..3).map(|i| c[i * 3 + s.row_to_col[i] as usize]).sum();
        assert_eq!(total, 5);
        check(&c, 3, 3);
    }

    #[test]
    fn empty_and_mismatch() {
        let s = solve_dense::<i64>(&[], 0, 5).unwrap();
        assert_eq!(s.col_to_row, vec![-1; 5]);
        let s = solve_dense::<f64>(&[], 4, 0).unwrap();
        assert_eq!(s.row_to_col, vec![-1; 4]);
        assert!(solve_dense(&[1i64, 2], 2, 2).is_err());
    }

    #[test]
    fn float_ties_terminate() {
        let c = vec![1.0f64; 50 * 50];
        let s = solve_dense(&c, 50, 50).unwrap();
        assert!(s.row_to_col.iter().all(|&j| j >= 0));
    }

    /// `len` costs in `[low, high)` from a xorshift64 stream seeded by `seed`.
    fn xorshift_costs(len: usize, seed: u64, low: i64, high: i64) -> Vec<i64> {
        let mut s = seed | 1;
        let span = (high - low) as u64;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % span) as i64 + low
            })
            .collect()
    }

    /// Optimal total of the `i64` core without narrowing, its certificate checked.
    fn wide_total(c: &[i64], n: usize, m: usize) -> i64 {
        let s = oriented(c, n, m).unwrap();
        let mut total = 0;
        for i in 0..n {
            for j in 0..m {
                assert!(s.u[i] + s.v[j] <= c[i * m + j], "feasible");
            }
            if s.row_to_col[i] >= 0 {
                let j = s.row_to_col[i] as usize;
                assert_eq!(s.u[i] + s.v[j], c[i * m + j], "tight");
                total += c[i * m + j];
            }
        }
        total
    }

    #[test]
    fn wide_and_negated_paths() {
        // Past the 32-bit range: the i64 core runs; the brute force still agrees.
        let big = exact_limit(30, 6) + 5;
        let c = [big, 1, -big, 7, big - 3, 2, 0, -4, 9];
        check(&c, 3, 3);
        assert!(i64::narrow(&c, 6, false).is_none());
        assert!(i64::narrow(&[1, 2, 3, 4], 4, false).is_some());
        // Maximisation: the potentials certify the negated matrix.
        let c = [4i64, 1, 3, 2, 0, 5, 3, 2, 2, 8, 1, 6];
        let s = solve_dense_signed(&c, 3, 4, true).unwrap();
        let neg: Vec<i64> = c.iter().map(|&x| -x).collect();
        let total: i64 = (0..3).map(|i| c[i * 4 + s.row_to_col[i] as usize]).sum();
        assert_eq!(-total, brute(&neg, 3, 4));
        for i in 0..3 {
            for j in 0..4 {
                assert!(s.u[i] + s.v[j] <= neg[i * 4 + j]);
            }
        }
        let f: Vec<f64> = c.iter().map(|&x| x as f64).collect();
        let sf = solve_dense_signed(&f, 3, 4, true).unwrap();
        let tf: f64 = (0..3).map(|i| f[i * 4 + sf.row_to_col[i] as usize]).sum();
        assert_eq!(tf, total as f64);
        assert!(solve_dense(&[f64::NAN, 1.0], 1, 2).is_err());
        assert!(solve_dense(&[1.0, f64::INFINITY], 2, 1).is_err());
    }

    proptest! {
        /// Larger matrices with many ties (values in a short range): the narrowed
        /// `i32` solve, the `i64` core and the `f64` core reach the same optimum, each
        /// with its certificate.
        #[test]
        fn narrowed_wide_and_float_agree(
            n in 1usize..40, m in 1usize..40, seed in any::<u64>(), range in 1i64..6,
        ) {
            let c = xorshift_costs(n * m, seed, 0, range);
            let narrowed = solve_dense(&c, n, m).unwrap();
            let mut total = 0;
            for i in 0..n {
                for j in 0..m {
                    prop_assert!(narrowed.u[i] + narrowed.v[j] <= c[i * m + j]);
                }
                if narrowed.row_to_col[i] >= 0 {
                    let j = narrowed.row_to_col[i] as usize;
                    prop_assert_eq!(narrowed.u[i] + narrowed.v[j], c[i * m + j]);
                    total += c[i * m + j];
                }
            }
            prop_assert_eq!(total, wide_total(&c, n, m));
            let f: Vec<f64> = c.iter().map(|&x| x as f64).collect();
            let sf = solve_dense(&f, n, m).unwrap();
            let tf: f64 = (0..n)
                .filter(|&i| sf.row_to_col[i] >= 0)
                .map(|i| f[i * m + sf.row_to_col[i] as usize])
                .sum();
            prop_assert_eq!(tf, total as f64);
        }

        /// Few ties (a wide range), so long augmenting paths whose predecessors are
        /// recovered after the search: the three cores still agree, certificates checked.
        #[test]
        fn long_paths_agree(
            n in 1usize..70, m in 1usize..70, seed in any::<u64>(), range in 1000i64..1_000_000,
        ) {
            let c = xorshift_costs(n * m, seed, 0, range);
            let narrowed = solve_dense(&c, n, m).unwrap();
            let total: i64 = (0..n)
                .filter(|&i| narrowed.row_to_col[i] >= 0)
                .map(|i| c[i * m + narrowed.row_to_col[i] as usize])
                .sum();
            prop_assert_eq!(total, wide_total(&c, n, m));
            let f: Vec<f64> = c.iter().map(|&x| x as f64).collect();
            let sf = solve_dense(&f, n, m).unwrap();
            let tf: f64 = (0..n)
                .filter(|&i| sf.row_to_col[i] >= 0)
                .map(|i| f[i * m + sf.row_to_col[i] as usize])
                .sum();
            prop_assert_eq!(tf, total as f64);
        }

        #[test]
        fn matches_brute_force(n in 0usize..7, m in 0usize..7, seed in any::<u64>(), range in 1i64..20) {
            let c = xorshift_costs(n * m, seed, -range, range);
            check(&c, n, m);
        }
    }
}
