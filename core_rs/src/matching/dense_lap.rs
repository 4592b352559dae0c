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
        init_rect(avx2, c, n, m, &mut x, &mut y, &v)
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
    // Augmenting row reduction, two passes.
    for _ in 0..2 {
        let mut queue = std::mem::take(&mut free);
        let mut k = 0;
        let mut budget = 4 * n + 16; // guards float ties against cycling
        while k < queue.len() {
            let i = queue[k] as usize;
            k += 1;
            let row = &c[i * n..(i + 1) * n];
            // The smallest and second smallest reduced cost, then where they are: the
            // first column at the minimum, and the first other column at the second.
            let (umin, usubmin) = two_min(avx2, row, v);
            let mut j1 = find_eq(row, v, umin, NONE);
            let j2 = if usubmin < C::INF {
                find_eq(row, v, usubmin, j1)
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

/// Row reduction for `n < m` with every `v_j = 0`: each row takes the first column at its
/// row minimum when no earlier row took it (`u_i` = the row minimum: every reduced cost
/// stays >= 0 and the pair is tight, while `v` stays zero, as the rectangular certificate
/// needs). Returns the rows left for shortest augmenting paths.
fn init_rect<C: Cost>(
    avx2: bool,
    c: &[C],
    n: usize,
    m: usize,
    x: &mut [u32],
    y: &mut [u32],
    v: &[C],
) -> Vec<u32> {
    let mut free = Vec::new();
    for i in 0..n {
        let row = &c[i * m..(i + 1) * m];
        let umin = min_reduced(avx2, row, v);
        let j = find_eq(row, v, umin, NONE);
        if j != NONE && y[j as usize] == NONE {
            x[i] = j;
            y[j as usize] = i as u32;
        } else {
            free.push(i as u32);
        }
    }
    free
}

/// Expands to a safe dispatcher `$name` that runs `$kernel` compiled with AVX2 when the
/// caller says the CPU has it (`avx2`, from [`has_avx2`]), else the portable build.
macro_rules! dispatch {
    ($name:ident, $avx:ident, $kernel:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx<C: Cost>($($arg: $ty),*) -> $ret {
            $kernel($($arg),*)
        }

        fn $name<C: Cost>(avx2: bool, $($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: `avx2` is true only when the running CPU reports AVX2 (`has_avx2`).
                return unsafe { $avx($($arg),*) };
            }
            let _ = avx2;
            $kernel($($arg),*)
        }
    };
}

/// `v_j = min(v_j, row_j)`, `argmin_j = i` where it improves: branch-free so it vectorises.
#[inline(always)]
fn column_min_kernel<C: Cost>(row: &[C], i: u32, v: &mut [C], argmin: &mut [u32]) {
    let m = v.len();
    let (row, argmin) = (&row[..m], &mut argmin[..m]);
    for j in 0..m {
        let better = row[j] < v[j];
        v[j] = if better { row[j] } else { v[j] };
        argmin[j] = if better { i } else { argmin[j] };
    }
}
dispatch!(column_min, column_min_avx2, column_min_kernel,
    (row: &[C], i: u32, v: &mut [C], argmin: &mut [u32]) -> ());

/// Lanes of the reduction kernels.
const LANES: usize = 16;

/// `min_j (row_j - v_j)` over equal-length slices, `C::INF` when empty.
#[inline(always)]
fn min_reduced_kernel<C: Cost>(row: &[C], v: &[C]) -> C {
    let mut acc = [C::INF; LANES];
    let (rc, vc) = (row.chunks_exact(LANES), v.chunks_exact(LANES));
    let (rr, vr) = (rc.remainder(), vc.remainder());
    for (r, w) in rc.zip(vc) {
        for k in 0..LANES {
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
dispatch!(min_reduced, min_reduced_avx2, min_reduced_kernel, (row: &[C], v: &[C]) -> C);

/// The smallest and the second smallest of `row_j - v_j` (equal on a tie; the second is
/// `C::INF` with fewer than two columns). Each lane keeps its own two smallest.
#[inline(always)]
fn two_min_kernel<C: Cost>(row: &[C], v: &[C]) -> (C, C) {
    let mut m1 = [C::INF; LANES];
    let mut m2 = [C::INF; LANES];
    let (rc, vc) = (row.chunks_exact(LANES), v.chunks_exact(LANES));
    let (rr, vr) = (rc.remainder(), vc.remainder());
    for (r, w) in rc.zip(vc) {
        for k in 0..LANES {
            let h = r[k] - w[k];
            let lower = h < m1[k];
            let hi = if lower { m1[k] } else { h };
            m1[k] = if lower { h } else { m1[k] };
            m2[k] = if hi < m2[k] { hi } else { m2[k] };
        }
    }
    let mut a = C::INF;
    let mut b = C::INF;
    let mut push = |h: C| {
        if h < a {
            b = a;
            a = h;
        } else if h < b {
            b = h;
        }
    };
    for (&r, &w) in rr.iter().zip(vr) {
        push(r - w);
    }
    for k in 0..LANES {
        push(m1[k]);
        push(m2[k]);
    }
    (a, b)
}
dispatch!(two_min, two_min_avx2, two_min_kernel, (row: &[C], v: &[C]) -> (C, C));

/// The first column `j != skip` with `row_j - v_j == target` (`NONE` if there is none),
/// testing sixteen at a time.
fn find_eq<C: Cost>(row: &[C], v: &[C], target: C, skip: u32) -> u32 {
    let hit = |j: usize| j as u32 != skip && row[j] - v[j] == target;
    let (rc, vc) = (row.chunks_exact(LANES), v.chunks_exact(LANES));
    let mut base = 0;
    for (r, w) in rc.zip(vc) {
        if r.iter()
            .zip(w)
            .fold(false, |a, (&r, &w)| a | (r - w == target))
        {
            if let Some(k) = (base..base + LANES).find(|&j| hit(j)) {
                return k as u32;
            }
        }
        base += LANES;
    }
    (base..row.len())
        .find(|&j| hit(j))
        .map_or(NONE, |j| j as u32)
}

struct PathWork<C> {
    d: Vec<C>,
    pred: Vec<u32>,
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
            pred: vec![0; m],
            scanned: Vec::new(),
            ready: Vec::new(),
            ties: Vec::new(),
            avx2,
        }
    }
}

pub(super) fn has_avx2() -> bool {
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
fn relax_kernel<C: Cost>(row: &[C], v: &[C], h: C, i: u32, d: &mut [C], pred: &mut [u32]) -> C {
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
dispatch!(relax, relax_avx2, relax_kernel,
    (row: &[C], v: &[C], h: C, i: u32, d: &mut [C], pred: &mut [u32]) -> C);

/// Push every column with `d_j == min` onto `ready`, testing sixteen at a time.
fn collect_ties<C: Cost>(d: &[C], min: C, ready: &mut Vec<u32>) {
    ready.clear();
    let mut chunks = d.chunks_exact(LANES);
    let mut base = 0u32;
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |a, &x| a | (x == min)) {
            for (k, &x) in chunk.iter().enumerate() {
                if x == min {
                    ready.push(base + k as u32);
                }
            }
        }
        base += LANES as u32;
    }
    for (k, &x) in chunks.remainder().iter().enumerate() {
        if x == min {
            ready.push(base + k as u32);
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
    let mut min = relax(avx2, &c[fu * m..(fu + 1) * m], v, C::ZERO, f, d, pred);
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
            next = relax(avx2, ri, v, h, i, d, pred);
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
        let i = pred[j as usize];
        y[j as usize] = i;
        let next = x[i as usize];
        x[i as usize] = j;
        if i == f {
            break;
        }
        j = next;
    }
}
