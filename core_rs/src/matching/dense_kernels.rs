//! The vectorised kernels of [`super::dense_lap`]: branch-free loops over contiguous
//! slices, each compiled twice (portable, and with AVX2 for CPUs that report it).

use super::cost::Cost;
use super::dense_lap::NONE;

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

/// Expands to a safe dispatcher `$name` that runs `$kernel` compiled with AVX2 when the
/// caller says the CPU has it (`avx2`, from [`has_avx2`]), else the portable build.
macro_rules! dispatch {
    ($name:ident, $avx:ident, $kernel:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx<C: Cost>($($arg: $ty),*) -> $ret {
            $kernel($($arg),*)
        }

        pub(super) fn $name<C: Cost>(avx2: bool, $($arg: $ty),*) -> $ret {
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

/// Lanes of [`umins`]: three vectors of state (two values, one column) per lane group.
const UMIN_LANES: usize = 8;

/// In one pass, the smallest reduced cost `row_j - v_j` with its first column, and the
/// second smallest (equal on a tie; `C::INF` with fewer than two columns): `(umin, j1,
/// usubmin)`. Each lane keeps its own two smallest and the chunk of the smaller, held as
/// an integer of the width of `C` ([`Cost::Lane`]) so that both share the vector lanes.
#[inline(always)]
fn umins_kernel<C: Cost>(row: &[C], v: &[C]) -> (C, u32, C) {
    const L: usize = UMIN_LANES;
    let mut m1 = [C::INF; L];
    let mut m2 = [C::INF; L];
    // The chunk number where each lane's smallest was seen: one broadcast per chunk.
    let mut i1 = [C::lane(0); L];
    let mut chunk = C::lane(0);
    let one = C::lane(1);
    let (rc, vc) = (row.chunks_exact(L), v.chunks_exact(L));
    let (rr, vr) = (rc.remainder(), vc.remainder());
    for (r, w) in rc.zip(vc) {
        for k in 0..L {
            let h = r[k] - w[k];
            let lower = h < m1[k];
            let hi = if lower { m1[k] } else { h };
            m2[k] = if hi < m2[k] { hi } else { m2[k] };
            i1[k] = if lower { chunk } else { i1[k] };
            m1[k] = if lower { h } else { m1[k] };
        }
        chunk = chunk + one;
    }
    // Merge: the smallest in (value, column) order, and the second smallest value.
    let (mut a, mut ja, mut b) = (C::INF, NONE, C::INF);
    let mut push = |h: C, j: u32| {
        if h < a || (h == a && j < ja) {
            b = if a < b { a } else { b };
            (a, ja) = (h, j);
        } else if h < b {
            b = h;
        }
    };
    for k in 0..L {
        if m1[k] < C::INF {
            push(m1[k], C::unlane(i1[k]) * L as u32 + k as u32);
            push(m2[k], NONE);
        }
    }
    let base = row.len() - rr.len();
    for (k, (&r, &w)) in rr.iter().zip(vr).enumerate() {
        push(r - w, (base + k) as u32);
    }
    (a, ja, b)
}
dispatch!(umins, umins_avx2, umins_kernel, (row: &[C], v: &[C]) -> (C, u32, C));

/// The first column `j != skip` (`NONE` for no exception) with `row_j - v_j == target`
/// (`NONE` if there is none), testing sixteen at a time.
pub(super) fn find_eq<C: Cost>(row: &[C], v: &[C], target: C, skip: u32) -> u32 {
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

/// Relax every column through one row (`d_j = min(d_j, row_j - v_j - h)`) and return the
/// minimum distance among the unscanned columns. Scanned columns hold `C::NEG`, which no
/// candidate undercuts. No predecessor is written here (the path is recovered once the
/// search ends, see `dense_lap::augment`): three streams in, one out. Branch-free, in
/// lanes with their own minimum and stored back whole, so that it vectorises for floats
/// too (a single running float minimum, or a store under a condition, keeps LLVM to
/// scalar code with a branch per column).
#[inline(always)]
fn relax_kernel<C: Cost>(row: &[C], v: &[C], h: C, d: &mut [C]) -> C {
    const L: usize = UMIN_LANES;
    let m = d.len();
    let (row, v) = (&row[..m], &v[..m]);
    let step = |r: C, w: C, old: C, acc: &mut C| {
        let cand = r - w - h;
        let new = if cand < old { cand } else { old };
        let key = if new > C::NEG { new } else { C::INF };
        *acc = if key < *acc { key } else { *acc };
        new
    };
    let mut acc = [C::INF; L];
    let split = m - m % L;
    let lanes = row[..split]
        .chunks_exact(L)
        .zip(v[..split].chunks_exact(L))
        .zip(d[..split].chunks_exact_mut(L));
    for ((r, w), dd) in lanes {
        let mut nd = [C::ZERO; L];
        for k in 0..L {
            nd[k] = step(r[k], w[k], dd[k], &mut acc[k]);
        }
        dd.copy_from_slice(&nd);
    }
    let mut min = C::INF;
    for j in split..m {
        d[j] = step(row[j], v[j], d[j], &mut min);
    }
    acc.into_iter().fold(min, |a, b| if b < a { b } else { a })
}
dispatch!(relax, relax_avx2, relax_kernel, (row: &[C], v: &[C], h: C, d: &mut [C]) -> C);

/// Push every column with `d_j == min` onto `ready`, testing sixteen at a time.
pub(super) fn collect_ties<C: Cost>(d: &[C], min: C, ready: &mut Vec<u32>) {
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
