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
    /// The final distance of each settled column, and how many rows were scanned when it
    /// settled (its predecessor is one of those).
    fin: Vec<C>,
    when: Vec<u32>,
    /// Rows scanned, in order, with the offset `h` of their relaxation.
    rows: Vec<(u32, C)>,
    /// Columns whose distance is final.
    scanned: Vec<u32>,
    /// The batch of columns at the current minimum distance.
    ready: Vec<u32>,
    /// Columns a relaxation brought to the current minimum.
    ties: Vec<u32>,
    /// The augmenting path, (column, row) pairs from its free end.
    path: Vec<(u32, u32)>,
    /// Whether the AVX2 variant of the kernels may run.
    avx2: bool,
}

impl<C: Cost> PathWork<C> {
    fn new(m: usize, avx2: bool) -> Self {
        Self {
            d: vec![C::ZERO; m],
            fin: vec![C::ZERO; m],
            when: vec![0; m],
            rows: Vec::new(),
            scanned: Vec::new(),
            ready: Vec::new(),
            ties: Vec::new(),
            path: Vec::new(),
            avx2,
        }
    }

    /// Column `j` is final at distance `dist`.
    fn settle(&mut self, j: u32, dist: C) {
        let ju = j as usize;
        self.d[ju] = C::NEG;
        self.fin[ju] = dist;
        self.when[ju] = self.rows.len() as u32;
        self.scanned.push(j);
    }

    /// Scan row `i` with offset `h`: relax every column through it.
    fn scan(&mut self, c: &[C], m: usize, v: &[C], i: u32, h: C) -> C {
        self.rows.push((i, h));
        let iu = i as usize;
        relax(self.avx2, &c[iu * m..(iu + 1) * m], v, h, &mut self.d)
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
    w.scanned.clear();
    w.rows.clear();
    w.d.fill(C::INF);
    let mut min = w.scan(c, m, v, f, C::ZERO);
    let mut ready = std::mem::take(&mut w.ready);
    let mut ties = std::mem::take(&mut w.ties);
    let end = 'search: loop {
        collect_ties(&w.d, min, &mut ready);
        if let Some(&j) = ready.iter().find(|&&j| y[j as usize] == NONE) {
            break j;
        }
        for &j in ready.iter() {
            w.settle(j, min);
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
            let h = c[i as usize * m + j1] - v[j1] - min;
            // Each pass sees the updates of the previous ones: the last minimum is global.
            next = w.scan(c, m, v, i, h);
            if next == min {
                collect_ties(&w.d, min, &mut ties);
                if let Some(&j) = ties.iter().find(|&&j| y[j as usize] == NONE) {
                    break 'search j;
                }
                for &j in ties.iter() {
                    w.settle(j, min);
                }
                ready.extend_from_slice(&ties);
            }
        }
        min = next;
    };
    (w.ready, w.ties) = (ready, ties);
    // The path back from `end`: each column's predecessor is a row scanned before it
    // settled whose relaxation gives exactly its final distance (the kernel's arithmetic,
    // repeated). Found before the potentials change.
    w.path.clear();
    let (mut j, mut dj, mut k) = (end, min, w.rows.len());
    loop {
        let ju = j as usize;
        let i = w.rows[..k]
            .iter()
            .find(|&&(i, h)| c[i as usize * m + ju] - v[ju] - h == dj)
            .map_or(f, |&(i, _)| i);
        w.path.push((j, i));
        if i == f {
            break;
        }
        j = x[i as usize];
        (dj, k) = (w.fin[j as usize], w.when[j as usize] as usize);
    }
    // Scanned columns get their potentials raised to keep edges tight.
    for &j in w.scanned.iter() {
        let ju = j as usize;
        v[ju] = v[ju] + w.fin[ju] - min;
    }
    for &(j, i) in w.path.iter() {
        y[j as usize] = i;
        x[i as usize] = j;
    }
}
