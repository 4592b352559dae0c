//! Dense linear assignment: Jonker-Volgenant (LAPJV) on a row-major cost matrix.
//!
//! Minimises `sum c[i][x[i]]` over matchings of size `min(n, m)`. Square problems use the
//! full LAPJV (column reduction, reduction transfer, two passes of augmenting row
//! reduction, then shortest augmenting paths); rectangular ones with `n < m` use the
//! shortest-augmenting-path phase alone from zero column potentials, which keeps the
//! potentials of unmatched columns at zero; `n > m` is solved on the transpose, as scipy
//! does. Worst case O(n^2 m) time, O(n m) for the transposed copy only when `n > m`.
//!
//! The result carries potentials `u`, `v` with `u_i + v_j <= c_ij` on every pair, equality
//! on matched pairs, and `v_j <= 0`, zero on unmatched columns when `n < m` (or the mirror
//! statement for rows when `n > m`): the LP duals that certify optimality.

use crate::error::{CoreError, CoreResult};

/// A cost type the dense solver runs on: `i64` (exact) or `f64`.
pub trait Cost:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + Send
    + Sync
    + std::fmt::Debug
{
    const ZERO: Self;
    const INF: Self;
    /// Below every distance the solver reaches: marks settled columns.
    const NEG: Self;
    /// Why this entry cannot be solved exactly in a problem with `size` rows plus columns.
    fn unusable(self, size: usize) -> Option<String>;
}

impl Cost for i64 {
    const ZERO: Self = 0;
    const INF: Self = i64::MAX / 4;
    const NEG: Self = i64::MIN / 4;
    fn unusable(self, size: usize) -> Option<String> {
        let limit = crate::matching::sparse::max_abs_score(size, 0);
        (self.unsigned_abs() > limit as u64)
            .then(|| format!("|{self}| exceeds {limit}, the exact range for this shape"))
    }
}

impl Cost for f64 {
    const ZERO: Self = 0.0;
    const INF: Self = f64::INFINITY;
    const NEG: Self = f64::NEG_INFINITY;
    fn unusable(self, _size: usize) -> Option<String> {
        (!self.is_finite()).then(|| format!("{self} is not a finite number"))
    }
}

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
}

const NONE: usize = usize::MAX;

/// Solve `min sum c[i][x_i]` for the row-major `n x m` matrix `costs`.
pub fn solve_dense<C: Cost>(costs: &[C], n: usize, m: usize) -> CoreResult<DenseSolution<C>> {
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
    for (k, &value) in costs.iter().enumerate() {
        if let Some(why) = value.unusable(n + m) {
            return Err(CoreError::invalid("scores", Some(k / m.max(1)), why));
        }
    }
    if n <= m {
        let (x, y, u, v) = lap(costs, n, m);
        Ok(DenseSolution {
            row_to_col: to_i64(&x),
            col_to_row: to_i64(&y),
            u,
            v,
        })
    } else {
        let mut t = crate::budget::try_with_capacity("scores", expected)?;
        for j in 0..m {
            t.extend((0..n).map(|i| costs[i * m + j]));
        }
        let (x, y, u, v) = lap(&t, m, n);
        Ok(DenseSolution {
            row_to_col: to_i64(&y),
            col_to_row: to_i64(&x),
            u: v,
            v: u,
        })
    }
}

fn to_i64(a: &[usize]) -> Vec<i64> {
    a.iter()
        .map(|&k| if k == NONE { -1 } else { k as i64 })
        .collect()
}

type Lap<C> = (Vec<usize>, Vec<usize>, Vec<C>, Vec<C>);

/// Core of LAPJV for `n <= m`; returns (row->col, col->row, u, v).
fn lap<C: Cost>(c: &[C], n: usize, m: usize) -> Lap<C> {
    let mut x = vec![NONE; n];
    let mut y = vec![NONE; m];
    let mut v = vec![C::ZERO; m];
    if n == 0 {
        return (x, y, Vec::new(), v);
    }
    let mut free: Vec<usize> = if n == m {
        init_square(c, n, &mut x, &mut y, &mut v)
    } else {
        (0..n).collect()
    };
    free.reverse();
    let mut work = PathWork::new(m);
    while let Some(f) = free.pop() {
        augment(c, m, f, &mut x, &mut y, &mut v, &mut work);
    }
    let u = (0..n)
        .map(|i| {
            let j = x[i];
            c[i * m + j] - v[j]
        })
        .collect();
    (x, y, u, v)
}

/// Column reduction, reduction transfer and augmenting row reduction (square only).
/// Returns the rows still free.
fn init_square<C: Cost>(
    c: &[C],
    n: usize,
    x: &mut [usize],
    y: &mut [usize],
    v: &mut [C],
) -> Vec<usize> {
    // Column reduction, row-major for the cache: v_j = min_i c_ij, argmin the first row.
    let mut argmin = vec![0usize; n];
    v.copy_from_slice(&c[..n]);
    let avx2 = has_avx2();
    for i in 1..n {
        column_min(avx2, &c[i * n..(i + 1) * n], i, v, &mut argmin);
    }
    let mut matches = vec![0u32; n];
    for j in (0..n).rev() {
        let i = argmin[j];
        matches[i] += 1;
        if matches[i] == 1 {
            x[i] = j;
            y[j] = i;
        } else if v[j] < v[x[i]] {
            let j1 = x[i];
            x[i] = j;
            y[j] = i;
            y[j1] = NONE;
        } else {
            y[j] = NONE;
        }
    }
    // Reduction transfer.
    let mut free = Vec::new();
    for i in 0..n {
        if matches[i] == 0 {
            free.push(i);
        } else if matches[i] == 1 {
            let j1 = x[i];
            let row = &c[i * n..(i + 1) * n];
            let min = min_reduced(&row[..j1], &v[..j1]);
            let rest = min_reduced(&row[j1 + 1..], &v[j1 + 1..]);
            let min = if rest < min { rest } else { min };
            if min < C::INF {
                v[j1] = v[j1] - min;
            }
        }
    }
    // Augmenting row reduction, two passes.
    for _ in 0..2 {
        let previous = std::mem::take(&mut free);
        let mut queue = previous;
        let mut k = 0;
        let mut budget = 4 * n + 16; // guards float ties against cycling
        while k < queue.len() {
            let i = queue[k];
            k += 1;
            let row = &c[i * n..(i + 1) * n];
            let (mut j1, mut umin) = (0usize, row[0] - v[0]);
            let (mut j2, mut usubmin) = (NONE, C::INF);
            for j in 1..n {
                let h = row[j] - v[j];
                if h < usubmin {
                    if h >= umin {
                        usubmin = h;
                        j2 = j;
                    } else {
                        usubmin = umin;
                        umin = h;
                        j2 = j1;
                        j1 = j;
                    }
                }
            }
            let mut i0 = y[j1];
            let strict = umin < usubmin && usubmin < C::INF;
            if strict {
                v[j1] = v[j1] - (usubmin - umin);
            } else if i0 != NONE && j2 != NONE {
                j1 = j2;
                i0 = y[j2];
            }
            if i0 != NONE && x[i0] == j1 {
                x[i0] = NONE;
            }
            x[i] = j1;
            y[j1] = i;
            if i0 != NONE {
                if strict && budget > 0 {
                    budget -= 1;
                    k -= 1;
                    queue[k] = i0;
                } else {
                    free.push(i0);
                }
            }
        }
    }
    free
}

/// `v_j = min(v_j, row_j)`, `argmin_j = i` where it improves: branch-free so it vectorises.
#[inline(always)]
fn column_min_kernel<C: Cost>(row: &[C], i: usize, v: &mut [C], argmin: &mut [usize]) {
    let m = v.len();
    let (row, argmin) = (&row[..m], &mut argmin[..m]);
    for j in 0..m {
        let better = row[j] < v[j];
        v[j] = if better { row[j] } else { v[j] };
        argmin[j] = if better { i } else { argmin[j] };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn column_min_avx2<C: Cost>(row: &[C], i: usize, v: &mut [C], argmin: &mut [usize]) {
    column_min_kernel(row, i, v, argmin);
}

fn column_min<C: Cost>(avx2: bool, row: &[C], i: usize, v: &mut [C], argmin: &mut [usize]) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reports AVX2 (`has_avx2`).
        return unsafe { column_min_avx2(row, i, v, argmin) };
    }
    let _ = avx2;
    column_min_kernel(row, i, v, argmin);
}

/// `min_j (row_j - v_j)` over equal-length slices, `C::INF` when empty; four accumulators.
fn min_reduced<C: Cost>(row: &[C], v: &[C]) -> C {
    let mut acc = [C::INF; 4];
    let (rc, vc) = (row.chunks_exact(4), v.chunks_exact(4));
    let (rr, vr) = (rc.remainder(), vc.remainder());
    for (r, w) in rc.zip(vc) {
        for k in 0..4 {
            let h = r[k] - w[k];
            acc[k] = if h < acc[k] { h } else { acc[k] };
        }
    }
    for (&r, &w) in rr.iter().zip(vr) {
        let h = r - w;
        acc[0] = if h < acc[0] { h } else { acc[0] };
    }
    acc.into_iter()
        .fold(C::INF, |a, b| if b < a { b } else { a })
}

struct PathWork<C> {
    d: Vec<C>,
    pred: Vec<usize>,
    /// Columns whose distance is final, with that distance.
    scanned: Vec<(usize, C)>,
    /// The batch of columns at the current minimum distance.
    ready: Vec<usize>,
    /// Whether the AVX2 variant of the relaxation kernel may run.
    avx2: bool,
}

impl<C: Cost> PathWork<C> {
    fn new(m: usize) -> Self {
        Self {
            d: vec![C::ZERO; m],
            pred: vec![0; m],
            scanned: Vec::new(),
            ready: Vec::new(),
            avx2: has_avx2(),
        }
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Relax every column through row `i` (`d_j = min(d_j, row_j - v_j - h)`, `pred_j = i`
/// where it improves) and return the minimum distance among the unscanned columns.
/// Scanned columns hold `C::NEG`, which no candidate undercuts. Branch-free over
/// contiguous slices so that it vectorises.
#[inline(always)]
fn relax_kernel<C: Cost>(row: &[C], v: &[C], h: C, i: usize, d: &mut [C], pred: &mut [usize]) -> C {
    let m = d.len();
    let (row, v, pred) = (&row[..m], &v[..m], &mut pred[..m]);
    let mut min = C::INF;
    for j in 0..m {
        let cand = row[j] - v[j] - h;
        let old = d[j];
        let better = cand < old;
        let new = if better { cand } else { old };
        d[j] = new;
        pred[j] = if better { i } else { pred[j] };
        let key = if new > C::NEG { new } else { C::INF };
        min = if key < min { key } else { min };
    }
    min
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn relax_avx2<C: Cost>(
    row: &[C],
    v: &[C],
    h: C,
    i: usize,
    d: &mut [C],
    pred: &mut [usize],
) -> C {
    relax_kernel(row, v, h, i, d, pred)
}

fn relax<C: Cost>(
    avx2: bool,
    row: &[C],
    v: &[C],
    h: C,
    i: usize,
    d: &mut [C],
    pred: &mut [usize],
) -> C {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reports AVX2 (`has_avx2`).
        return unsafe { relax_avx2(row, v, h, i, d, pred) };
    }
    let _ = avx2;
    relax_kernel(row, v, h, i, d, pred)
}

/// Push every column with `d_j == min` onto `ready`, testing eight at a time.
fn collect_ties<C: Cost>(d: &[C], min: C, ready: &mut Vec<usize>) {
    ready.clear();
    let mut chunks = d.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |a, &x| a | (x == min)) {
            for (k, &x) in chunk.iter().enumerate() {
                if x == min {
                    ready.push(base + k);
                }
            }
        }
        base += 8;
    }
    for (k, &x) in chunks.remainder().iter().enumerate() {
        if x == min {
            ready.push(base + k);
        }
    }
}

/// One shortest augmenting path from the free row `f` (Dijkstra on reduced costs that
/// settles the whole batch of columns at the minimum distance at once, as LAPJV does),
/// then the potential update and the augmentation.
fn augment<C: Cost>(
    c: &[C],
    m: usize,
    f: usize,
    x: &mut [usize],
    y: &mut [usize],
    v: &mut [C],
    w: &mut PathWork<C>,
) {
    let PathWork {
        d,
        pred,
        scanned,
        ready,
        avx2,
    } = w;
    let avx2 = *avx2;
    scanned.clear();
    d.fill(C::INF);
    let mut min = relax(avx2, &c[f * m..(f + 1) * m], v, C::ZERO, f, d, pred);
    let end = loop {
        collect_ties(d, min, ready);
        if let Some(&j) = ready.iter().find(|&&j| y[j] == NONE) {
            break j;
        }
        for &j in ready.iter() {
            d[j] = C::NEG;
            scanned.push((j, min));
        }
        let mut next = min;
        for &j1 in ready.iter() {
            let i = y[j1];
            let ri = &c[i * m..(i + 1) * m];
            let h = ri[j1] - v[j1] - min;
            // Each pass sees the updates of the previous ones: the last minimum is global.
            next = relax(avx2, ri, v, h, i, d, pred);
        }
        min = next;
    };
    // Scanned columns get their potentials raised to keep edges tight.
    for &(j, dj) in scanned.iter() {
        v[j] = v[j] + dj - min;
    }
    let mut j = end;
    loop {
        let i = pred[j];
        y[j] = i;
        let next = x[i];
        x[i] = j;
        if i == f {
            break;
        }
        j = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    proptest! {
        #[test]
        fn matches_brute_force(n in 0usize..7, m in 0usize..7, seed in any::<u64>(), range in 1i64..20) {
            let mut s = seed | 1;
            let c: Vec<i64> = (0..n * m).map(|_| {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                (s % (2 * range as u64)) as i64 - range
            }).collect();
            check(&c, n, m);
        }
    }
}
