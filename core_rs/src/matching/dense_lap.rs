//! The LAPJV core behind [`super::dense`], generic over the cost type.
//!
//! Jonker and Volgenant's phases for square problems (column reduction, reduction
//! transfer, two passes of augmenting row reduction), then one Dijkstra-style shortest
//! augmenting path per row still free, settling the whole batch of columns at the
//! current minimum distance at once. Every inner loop runs over contiguous slices and
//! is branch-free, so that it vectorises (AVX2 when the CPU has it). Row and column
//! indices are `u32`: with 32-bit costs (the narrowed integer path) every lane of a
//! kernel is 32 bits wide, eight to a vector.

use super::cost::Cost;
use super::dense_kernels::{
    collect_ties, column_min, find_eq, has_avx2, min_reduced, relax, umins,
};

/// No row / no column.
pub(super) const NONE: u32 = u32::MAX;

/// Row -> column, column -> row, and the potentials `u`, `v` of an `n <= m` problem.
pub(super) struct Lap<C> {
    pub x: Vec<u32>,
    pub y: Vec<u32>,
    pub u: Vec<C>,
    pub v: Vec<C>,
}

/// LAPJV for the row-major `n x m` matrix `c`, `n <= m < u32::MAX`.
pub(super) fn lap<C: Cost>(c: &[C], n: usize, m: usize) -> Lap<C> {
    let mut x = vec![NONE; n];
    let mut y = vec![NONE; m];
    let mut v = vec![C::ZERO; m];
    if n == 0 {
        return Lap {
            x,
            y,
            u: Vec::new(),
            v,
        };
    }
    let avx2 = has_avx2();
    let mut free: Vec<u32> = if n == m {
        init_square(avx2, c, n, &mut x, &mut y, &mut v)
    } else {
        // Every v_j = 0: free columns keep it, matched ones only go down, as the
        // rectangular certificate needs.
        augmenting_row_reduction(avx2, c, m, &mut x, &mut y, &mut v, (0..n as u32).collect())
    };
    free.reverse();
    let mut work = PathWork::new(m, avx2);
    while let Some(f) = free.pop() {
        augment(c, m, f, &mut x, &mut y, &mut v, &mut work);
    }
    let u = (0..n)
        .map(|i| {
            let j = x[i] as usize;
            c[i * m + j] - v[j]
        })
        .collect();
    Lap { x, y, u, v }
}

/// Column reduction, reduction transfer and augmenting row reduction (square only).
/// Returns the rows still free.
fn init_square<C: Cost>(
    avx2: bool,
    c: &[C],
    n: usize,
    x: &mut [u32],
    y: &mut [u32],
    v: &mut [C],
) -> Vec<u32> {
    // Column reduction, row-major for the cache: v_j = min_i c_ij, argmin the first row.
    let mut argmin = vec![0u32; n];
    v.copy_from_slice(&c[..n]);
    for i in 1..n {
        column_min(avx2, &c[i * n..(i + 1) * n], i as u32, v, &mut argmin);
    }
    let mut matches = vec![0u32; n];
    for j in (0..n).rev() {
        let i = argmin[j] as usize;
        matches[i] += 1;
        if matches[i] == 1 {
            x[i] = j as u32;
            y[j] = i as u32;
        } else if v[j] < v[x[i] as usize] {
            let j1 = x[i] as usize;
            x[i] = j as u32;
            y[j] = i as u32;
            y[j1] = NONE;
        } else {
            y[j] = NONE;
        }
    }
    // Reduction transfer.
    let mut free = Vec::new();
    for i in 0..n {
        if matches[i] == 0 {
            free.push(i as u32);
        } else if matches[i] == 1 {
            let j1 = x[i] as usize;
            let row = &c[i * n..(i + 1) * n];
            let min = min_reduced(avx2, &row[..j1], &v[..j1]);
            let rest = min_reduced(avx2, &row[j1 + 1..], &v[j1 + 1..]);
            let min = if rest < min { rest } else { min };
            if min < C::INF {
                v[j1] = v[j1] - min;
            }
        }
    }
    augmenting_row_reduction(avx2, c, n, x, y, v, free)
}

/// Jonker and Volgenant's augmenting row reduction, two passes over the free rows of the
/// row-major `c` with rows of `m` columns: each row takes the column of its smallest
/// reduced cost, lowering that column's potential to the second smallest so that the
/// row stays at its minimum; the row it displaces goes next. Every assigned row stays
/// at its row minimum and only columns that end up matched change potential (free
/// columns keep theirs, as the rectangular certificate needs). Returns the rows still
/// free.
fn augmenting_row_reduction<C: Cost>(
    avx2: bool,
    c: &[C],
    m: usize,
    x: &mut [u32],
    y: &mut [u32],
    v: &mut [C],
    mut free: Vec<u32>,
) -> Vec<u32> {
    let n = x.len();
    for _ in 0..2 {
        let mut queue = std::mem::take(&mut free);
        let mut k = 0;
        let mut budget = 4 * n + 16; // guards float ties against cycling
        while k < queue.len() {
            let i = queue[k] as usize;
            k += 1;
            let row = &c[i * m..(i + 1) * m];
            // The smallest and second smallest reduced cost, then where they are: the
            // first column at the minimum, and the first other column at the second.
            let (umin, mut j1, usubmin) = umins(avx2, row, v);
            // Another column at the minimum, needed on a tie only.
            let j2 = if usubmin == umin {
                find_eq(row, v, umin, j1)
            } else {
                NONE
            };
            let mut i0 = y[j1 as usize];
            let strict = umin < usubmin && usubmin < C::INF;
            if strict {
                v[j1 as usize] = v[j1 as usize] - (usubmin - umin);
            } else if i0 != NONE && j2 != NONE {
                j1 = j2;
                i0 = y[j2 as usize];
            }
            if i0 != NONE && x[i0 as usize] == j1 {
                x[i0 as usize] = NONE;
            }
            x[i] = j1;
            y[j1 as usize] = i as u32;
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

struct PathWork<C: Cost> {
    d: Vec<C>,
    pred: Vec<C::Lane>,
    /// Columns whose distance is final, with that distance.
    scanned: Vec<(u32, C)>,
    /// The batch of columns at the current minimum distance.
    ready: Vec<u32>,
    /// Columns a relaxation brought to the current minimum.
    ties: Vec<u32>,
    /// Whether the AVX2 variant of the kernels may run.
    avx2: bool,
}

impl<C: Cost> PathWork<C> {
    fn new(m: usize, avx2: bool) -> Self {
        Self {
            d: vec![C::ZERO; m],
            pred: vec![C::lane(0); m],
            scanned: Vec::new(),
            ready: Vec::new(),
            ties: Vec::new(),
            avx2,
        }
    }
}

/// One shortest augmenting path from the free row `f` (Dijkstra on reduced costs that
/// settles the whole batch of columns at the minimum distance at once, as LAPJV does),
/// then the potential update and the augmentation.
fn augment<C: Cost>(
    c: &[C],
    m: usize,
    f: u32,
    x: &mut [u32],
    y: &mut [u32],
    v: &mut [C],
    w: &mut PathWork<C>,
) {
    let PathWork {
        d,
        pred,
        scanned,
        ready,
        ties,
        avx2,
    } = w;
    let avx2 = *avx2;
    scanned.clear();
    d.fill(C::INF);
    let fu = f as usize;
    let mut min = relax(
        avx2,
        &c[fu * m..(fu + 1) * m],
        v,
        C::ZERO,
        C::lane(fu),
        d,
        pred,
    );
    let end = 'search: loop {
        collect_ties(d, min, ready);
        if let Some(&j) = ready.iter().find(|&&j| y[j as usize] == NONE) {
            break j;
        }
        for &j in ready.iter() {
            d[j as usize] = C::NEG;
            scanned.push((j, min));
        }
        // Scan the batch as a work list: a relaxation that brings more columns to the
        // current minimum (ties, common with integer costs) ends the search at once if
        // one of them is free, else adds them to the batch, as LAPJV's column list does.
        let mut next = min;
        let mut k = 0;
        while k < ready.len() {
            let j1 = ready[k] as usize;
            k += 1;
            let i = y[j1];
            let iu = i as usize;
            let ri = &c[iu * m..(iu + 1) * m];
            let h = ri[j1] - v[j1] - min;
            // Each pass sees the updates of the previous ones: the last minimum is global.
            next = relax(avx2, ri, v, h, C::lane(iu), d, pred);
            if next == min {
                collect_ties(d, min, ties);
                if let Some(&j) = ties.iter().find(|&&j| y[j as usize] == NONE) {
                    break 'search j;
                }
                for &j in ties.iter() {
                    d[j as usize] = C::NEG;
                    scanned.push((j, min));
                }
                ready.extend_from_slice(ties);
            }
        }
        min = next;
    };
    // Scanned columns get their potentials raised to keep edges tight.
    for &(j, dj) in scanned.iter() {
        v[j as usize] = v[j as usize] + dj - min;
    }
    let mut j = end;
    loop {
        let i = C::unlane(pred[j as usize]);
        y[j as usize] = i;
        let next = x[i as usize];
        x[i as usize] = j;
        if i == f {
            break;
        }
        j = next;
    }
}
