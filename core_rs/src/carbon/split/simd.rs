//! The per-element loops of the pipeline, written branch-free over equal-length slices so
//! that they vectorise, compiled twice: for any x86-64 and, picked at run time when the
//! CPU has it, for AVX-512 (F, DQ, VL: 64-bit multiplies and float/integer conversions in
//! vector registers), which runs 8 tenant-hours per instruction. Both compute the same
//! integers.

use super::{grams_with, quota, round_half_even, Cell, Factor, Split};

/// Whether the AVX-512 variants may run on this CPU.
pub(crate) fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One split per hour, column-wise (see [`Split`]): a tenant's shares over a range of
/// hours then read each parameter as a contiguous slice.
#[derive(Debug, Default)]
pub(crate) struct SplitColumns {
    total: Vec<i64>,
    sum: Vec<i64>,
    ratio: Vec<f64>,
    threshold: Vec<i64>,
    cut: Vec<i64>,
}

impl SplitColumns {
    pub(crate) fn new<'a>(splits: impl Iterator<Item = &'a Split>) -> Self {
        let mut c = Self::default();
        for s in splits {
            c.total.push(s.total);
            c.sum.push(s.sum);
            c.ratio.push(s.ratio);
            c.threshold.push(s.threshold);
            c.cut.push(i64::try_from(s.cut).unwrap_or(i64::MAX));
        }
        c
    }

    /// The hours `h0..h1`.
    pub(crate) fn slice(&self, h0: usize, h1: usize) -> SplitSlice<'_> {
        SplitSlice {
            total: &self.total[h0..h1],
            sum: &self.sum[h0..h1],
            ratio: &self.ratio[h0..h1],
            threshold: &self.threshold[h0..h1],
            cut: &self.cut[h0..h1],
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitSlice<'a> {
    total: &'a [i64],
    sum: &'a [i64],
    ratio: &'a [f64],
    threshold: &'a [i64],
    cut: &'a [i64],
}

/// [`Split::share`] of the weight `w` at position `k` under the split of hour `j`.
#[inline(always)]
fn share(s: &SplitSlice<'_>, j: usize, w: i64, k: i64) -> i64 {
    let (q, rem) = quota(s.total[j], s.sum[j], s.ratio[j], w);
    let t = s.threshold[j];
    q + i64::from((rem > t) | ((rem == t) & (k < s.cut[j])))
}

/// Annual sums of one tenant's row: load, PV, green, matched, location, market.
pub(super) type RowSums = [i64; 6];

/// A row's two emission factors: location-based and residual (market-based).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Factors {
    pub(crate) location: Factor,
    pub(crate) residual: Factor,
}

/// A row's outputs: location- and market-based grams, and matched energy (added to, when
/// `GREEN`).
pub(crate) struct PlainOut<'a, T> {
    pub(crate) location: &'a mut [T],
    pub(crate) market: &'a mut [T],
    pub(crate) matched: &'a mut [i64],
}

/// One tenant's hours (pro rata PV, no certificates): its PV share of each hour from
/// its load (position `i`), grid draw `d = L - PV`, matched `min(d, green)` (when
/// `GREEN`; added to `matched`), location- and market-based grams.
#[inline(always)]
fn plain_row_kernel<const GREEN: bool, T: Cell>(
    i: i64,
    load: &[i64],
    pv: &SplitSlice<'_>,
    green: &[i64],
    factors: Factors,
    out: PlainOut<'_, T>,
) -> RowSums {
    let Factors { location, residual } = factors;
    let PlainOut {
        location: out_location,
        market: out_market,
        matched,
    } = out;
    let len = load.len();
    let (out_location, out_market) = (&mut out_location[..len], &mut out_market[..len]);
    let pv = SplitSlice {
        total: &pv.total[..len],
        sum: &pv.sum[..len],
        ratio: &pv.ratio[..len],
        threshold: &pv.threshold[..len],
        cut: &pv.cut[..len],
    };
    let (green, matched) = if GREEN {
        (&green[..len], &mut matched[..len])
    } else {
        (&green[..0], &mut matched[..0])
    };
    let (mut load_sum, mut pv_sum, mut green_sum, mut matched_sum) = (0_i64, 0, 0, 0);
    let (mut loc_sum, mut mkt_sum) = (0_i64, 0);
    for j in 0..len {
        let l = load[j];
        let p = share(&pv, j, l, i);
        let d = l - p;
        let loc = grams_with(d, location);
        let mut r = d;
        if GREEN {
            let g = green[j];
            let m = d.min(g);
            matched[j] += m;
            r -= m;
            green_sum += g;
            matched_sum += m;
        }
        let mkt = grams_with(r, residual);
        out_location[j] = T::of(loc);
        out_market[j] = T::of(mkt);
        load_sum += l;
        pv_sum += p;
        loc_sum += loc;
        mkt_sum += mkt;
    }
    [load_sum, pv_sum, green_sum, matched_sum, loc_sum, mkt_sum]
}

/// One tenant's row of a pro-rata allocation (position `i`): its weight each hour,
/// `rint(u * a * b)` (the exact scaling of [`crate::carbon::pro_rata`]), and its share
/// under that hour's split.
#[inline(always)]
fn pro_rata_row_kernel(
    i: i64,
    use_: &[f64],
    a: &[f64],
    b: &[f64],
    s: &SplitSlice<'_>,
    out: &mut [i64],
) {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let len = out.len();
    let (use_, a, b) = (&use_[..len], &a[..len], &b[..len]);
    let s = SplitSlice {
        total: &s.total[..len],
        sum: &s.sum[..len],
        ratio: &s.ratio[..len],
        threshold: &s.threshold[..len],
        cut: &s.cut[..len],
    };
    for j in 0..len {
        let w = round_half_even(use_[j] * a[j] * b[j]).clamp(0.0, TWO_52);
        // SAFETY: an integer in [0, 2^52], so the truncation is exact and defined.
        let w: i64 = unsafe { w.to_int_unchecked() };
        out[j] = share(&s, j, w, i);
    }
}

/// Adds to `acc` the shares of the weight `w` at position `k` under each hour's split.
#[inline(always)]
fn add_shares_kernel(s: &SplitSlice<'_>, w: i64, k: i64, acc: &mut [i64]) {
    let len = acc.len();
    let s = SplitSlice {
        total: &s.total[..len],
        sum: &s.sum[..len],
        ratio: &s.ratio[..len],
        threshold: &s.threshold[..len],
        cut: &s.cut[..len],
    };
    for (j, a) in acc.iter_mut().enumerate() {
        *a += share(&s, j, w, k);
    }
}

/// Each weight's quota and remainder under `split`; returns the sum of the quotas.
#[inline(always)]
fn quotas_kernel(split: &Split, weights: &[i64], q: &mut [i64], rem: &mut [i64]) -> i64 {
    let len = weights.len();
    let (q, rem) = (&mut q[..len], &mut rem[..len]);
    let (total, sum, ratio) = (split.total, split.sum, split.ratio);
    let mut given = 0;
    for j in 0..len {
        let (a, b) = quota(total, sum, ratio, weights[j]);
        q[j] = a;
        rem[j] = b;
        given += a;
    }
    given
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::*;

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) unsafe fn plain_row<const GREEN: bool, T: Cell>(
        i: i64,
        load: &[i64],
        pv: &SplitSlice<'_>,
        green: &[i64],
        factors: Factors,
        out: PlainOut<'_, T>,
    ) -> RowSums {
        plain_row_kernel::<GREEN, T>(i, load, pv, green, factors, out)
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) unsafe fn pro_rata_row(
        i: i64,
        use_: &[f64],
        a: &[f64],
        b: &[f64],
        s: &SplitSlice<'_>,
        out: &mut [i64],
    ) {
        pro_rata_row_kernel(i, use_, a, b, s, out);
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) unsafe fn add_shares(s: &SplitSlice<'_>, w: i64, k: i64, acc: &mut [i64]) {
        add_shares_kernel(s, w, k, acc);
    }

    #[target_feature(enable = "avx512f,avx512dq,avx512vl")]
    pub(super) unsafe fn quotas(
        split: &Split,
        weights: &[i64],
        q: &mut [i64],
        rem: &mut [i64],
    ) -> i64 {
        quotas_kernel(split, weights, q, rem)
    }
}

/// [`plain_row_kernel`], vectorised when `wide` (from [`avx512`]).
pub(crate) fn plain_row<const GREEN: bool, T: Cell>(
    wide: bool,
    i: i64,
    load: &[i64],
    pv: &SplitSlice<'_>,
    green: &[i64],
    factors: Factors,
    out: PlainOut<'_, T>,
) -> RowSums {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is true only when the CPU reports the features ([`avx512`]).
        return unsafe { avx512::plain_row::<GREEN, T>(i, load, pv, green, factors, out) };
    }
    let _ = wide;
    plain_row_kernel::<GREEN, T>(i, load, pv, green, factors, out)
}

/// [`pro_rata_row_kernel`], vectorised when `wide`.
pub(crate) fn pro_rata_row(
    wide: bool,
    i: i64,
    use_: &[f64],
    a: &[f64],
    b: &[f64],
    s: &SplitSlice<'_>,
    out: &mut [i64],
) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: as in [`plain_row`].
        return unsafe { avx512::pro_rata_row(i, use_, a, b, s, out) };
    }
    let _ = wide;
    pro_rata_row_kernel(i, use_, a, b, s, out);
}

/// [`add_shares_kernel`], vectorised when `wide`.
pub(crate) fn add_shares(wide: bool, s: &SplitSlice<'_>, w: i64, k: i64, acc: &mut [i64]) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: as in [`plain_row`].
        return unsafe { avx512::add_shares(s, w, k, acc) };
    }
    let _ = wide;
    add_shares_kernel(s, w, k, acc);
}

/// [`quotas_kernel`], vectorised when the CPU allows.
pub(crate) fn quotas(split: &Split, weights: &[i64], q: &mut [i64], rem: &mut [i64]) -> i64 {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: as in [`plain_row`].
        return unsafe { avx512::quotas(split, weights, q, rem) };
    }
    quotas_kernel(split, weights, q, rem)
}
