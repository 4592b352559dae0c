//! Integer splits shared by the carbon allocations: a largest-remainder split of a total
//! by integer weights ([`Split`]), exact integer grams from energy and a factor
//! ([`grams`]), the result cell types, and zeroed result buffers mapped in bulk. Used by
//! [`crate::carbon::pro_rata`] and [`crate::carbon::scope2`] (which depend on this module,
//! never on each other); [`simd`] holds its vectorised loops.

use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};

/// The largest hourly total accepted, in grams (2^42 g, about 4.4 million t CO2e).
pub const MAX_TOTAL_G: i64 = 1 << 42;
/// Micrograms in a gram (factors are integer micrograms per Wh).
pub(crate) const UG_PER_G: u64 = 1_000_000;

/// `x` rounded to the nearest integer, ties to even, for `|x| < 2^51`: adding 2^52
/// rounds to the nearest integer, ties to even, and the subtraction is exact.
#[inline(always)]
pub(crate) fn round_half_even(x: f64) -> f64 {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    (x + TWO_52) - TWO_52
}

/// An element of the `n x hours` results: `i64`, or `i32` where every value fits (see
/// [`scope2_compact`]), which halves the memory written.
pub trait Cell: Copy + Default + Send + Sync + PartialEq + Eq + std::fmt::Debug + 'static {
    /// `v`, which the caller knows to fit.
    fn of(v: i64) -> Self;
}

impl Cell for i64 {
    #[inline(always)]
    fn of(v: i64) -> Self {
        v
    }
}

impl Cell for i32 {
    #[inline(always)]
    fn of(v: i64) -> Self {
        v as i32
    }
}

/// `round(energy * factor / 10^6)` with ties up; exact for the documented ranges.
#[inline]
pub fn grams(energy_wh: i64, ug_per_wh: i64) -> i64 {
    grams_with(energy_wh, Factor::new(ug_per_wh))
}

/// An emission factor, integer micrograms per Wh and (for the estimate) grams per Wh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Factor {
    ug_per_wh: i64,
    g_per_wh: f64,
}

impl Factor {
    pub(crate) fn new(ug_per_wh: i64) -> Self {
        Self {
            ug_per_wh,
            g_per_wh: ug_per_wh as f64 / UG_PER_G as f64,
        }
    }
}

/// [`grams`] without an integer division, so that loops over it vectorise: the float
/// estimate `e * (ug / 10^6) + 1/2` of a value below 2^44 has an absolute error below
/// 2^-8, so its truncation is within one of the result; the remainder
/// `e * ug + 10^6 / 2 - g * 10^6` is then exact in wrapping 64-bit arithmetic (the true
/// value lies in `(-10^6, 2 * 10^6)` and `e * ug < 2^63`), and one branch-free step each
/// way corrects the estimate.
#[inline(always)]
pub(crate) fn grams_with(energy_wh: i64, factor: Factor) -> i64 {
    const UG: i64 = UG_PER_G as i64;
    const BOUND: f64 = (1_i64 << 62) as f64;
    let estimate = (energy_wh as f64 * factor.g_per_wh + 0.5).clamp(-BOUND, BOUND);
    // SAFETY: finite (finite operands) and clamped into i64's range.
    let mut g: i64 = unsafe { estimate.to_int_unchecked() };
    let rem = energy_wh
        .wrapping_mul(factor.ug_per_wh)
        .wrapping_add(UG / 2)
        .wrapping_sub(g.wrapping_mul(UG));
    g -= i64::from(rem < 0);
    g += i64::from(rem >= UG);
    g
}

/// `(floor(total * w / sum), total * w mod sum)`, exactly, given `ratio = total / sum`
/// (see [`Split::quota`]); branch-free so that loops over it vectorise.
#[inline(always)]
pub(crate) fn quota(total: i64, sum: i64, ratio: f64, w: i64) -> (i64, i64) {
    const BOUND: f64 = (1_i64 << 62) as f64;
    let estimate = (w as f64 * ratio).clamp(-BOUND, BOUND);
    // SAFETY: `estimate` is finite (a finite weight times a finite ratio, `sum >= 1`) and
    // clamped into i64's range, so the truncation is defined; it spares the saturating
    // conversion's checks in the hottest loops.
    let mut q: i64 = unsafe { estimate.to_int_unchecked() };
    let mut rem = total.wrapping_mul(w).wrapping_sub(q.wrapping_mul(sum));
    let low = i64::from(rem < 0);
    q -= low;
    rem += low * sum;
    let high = i64::from(rem >= sum);
    q += high;
    rem -= high * sum;
    (q, rem)
}

/// A largest-remainder split of `total` (`0 ..= 2^42`) by integer weights (each
/// `0 ..= 2^42`, summing to `sum < 2^61`): weight `w` at position `k` gets
/// `floor(total * w / sum)`, and the grams left go one each to the largest remainders
/// `total * w mod sum`, ties to the lower position. The same rule (and for integer uses
/// the same result) as [`crate::carbon::allocate_pro_rata`].
///
/// It is computed in two steps so that the per-position shares can be recomputed
/// anywhere (tenant-major, without the whole column): [`Split::new`] finds, over the
/// column, the threshold remainder and how far ties reach; [`Split::share`] gives one
/// position's share from its own weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Split {
    pub(crate) total: i64,
    sum: i64,
    ratio: f64,
    /// Remainders above this get a gram...
    threshold: i64,
    /// ...and those equal to it at positions below this.
    cut: usize,
}

impl Split {
    /// Nothing to split: every share is 0.
    pub(crate) const NONE: Split = Split {
        total: 0,
        sum: 1,
        ratio: 0.0,
        threshold: i64::MAX,
        cut: 0,
    };

    /// `(floor(total * w / sum), total * w mod sum)`, exactly. The float estimate
    /// `w * (total / sum)` has a relative error below 2^-51 on a quotient below 2^44, so
    /// it is off by less than 2^-7 and its truncation is within one of the floor; the
    /// remainder computed with wrapping 64-bit arithmetic is then exact (it lies in
    /// `(-sum, 2 sum)`, `sum < 2^61`), and one branch-free step each way corrects both.
    #[inline(always)]
    pub(crate) fn quota(&self, w: i64) -> (i64, i64) {
        quota(self.total, self.sum, self.ratio, w)
    }

    /// The share of the weight `w` at position `k`.
    #[inline(always)]
    pub(crate) fn share(&self, w: i64, k: usize) -> i64 {
        let (q, rem) = self.quota(w);
        q + i64::from(rem > self.threshold || (rem == self.threshold && k < self.cut))
    }

    /// The split of `total` over `weights` (summing to `sum`); `total == 0` or `sum == 0`
    /// gives [`Split::NONE`]. Leaves each position's quota and remainder in `scratch` for
    /// [`Split::fill`]. O(len) with a linear-time selection.
    pub(crate) fn new(total: i64, weights: &[i64], sum: i64, scratch: &mut SplitScratch) -> Split {
        // Every slot is overwritten below, so the buffers are only resized (no clearing
        // pass over them per hour).
        let len = weights.len();
        scratch.quota.resize(len, 0);
        scratch.remainder.resize(len, 0);
        if total == 0 || sum == 0 {
            scratch.quota.fill(0);
            scratch.remainder.fill(0);
            return Split::NONE;
        }
        let mut s = Split {
            total,
            sum,
            ratio: total as f64 / sum as f64,
            threshold: i64::MAX,
            cut: 0,
        };
        // Remainders are bucketed by a monotone map into BUCKETS bins, so the selection of
        // the threshold only sorts out the bin it falls in (about len / BUCKETS values).
        // The map is a shift: remainders lie in [0, sum), so `r >> shift` lies in
        // [0, BUCKETS) (at least half of the bins in use); the mask only spares the bounds
        // check.
        let shift = (64 - sum.leading_zeros()).saturating_sub(BUCKETS.trailing_zeros());
        let bucket = |r: i64| ((r as u64) >> shift) as usize & (BUCKETS - 1);
        let hist = &mut scratch.hist;
        hist.clear();
        hist.resize(BUCKETS, 0);
        // Each position's bin is kept (u16: BUCKETS <= 2^16) so the selection below
        // compares bins instead of recomputing them.
        let bins = &mut scratch.bin;
        bins.resize(len, 0);
        let given = simd::quotas(&s, weights, &mut scratch.quota, &mut scratch.remainder);
        for (&rem, b_out) in scratch.remainder.iter().zip(bins.iter_mut()) {
            let b = bucket(rem);
            *b_out = b as u16;
            hist[b] += 1;
        }
        let left = (total - given) as usize; // in [0, len)
        if left == 0 {
            return s;
        }
        // The bin holding the left-th largest remainder, and how many lie above it.
        let (mut bin, mut above) = (BUCKETS - 1, 0_usize);
        while above + hist[bin] < left {
            above += hist[bin];
            bin -= 1;
        }
        let select = &mut scratch.select;
        select.clear();
        let bin16 = bin as u16;
        select.extend(
            scratch
                .remainder
                .iter()
                .zip(bins.iter())
                .filter(|&(_, &b)| b == bin16)
                .map(|(&r, _)| r),
        );
        let rank = left - above; // in [1, len(select)]
        let k = select.len() - rank;
        let (_, &mut threshold, _) = select.select_nth_unstable(k);
        let greater = above + select.iter().filter(|&&r| r > threshold).count();
        let mut ties = left - greater;
        let mut cut = 0;
        for (k, &r) in scratch.remainder.iter().enumerate() {
            if ties == 0 {
                break;
            }
            if r == threshold {
                ties -= 1;
                cut = k + 1;
            }
        }
        s.threshold = threshold;
        s.cut = cut;
        s
    }

    /// The shares of every position, from the quotas [`Split::new`] left in `scratch`.
    pub(crate) fn fill(&self, scratch: &SplitScratch, out: &mut [i64]) {
        for (k, ((o, &q), &rem)) in out
            .iter_mut()
            .zip(&scratch.quota)
            .zip(&scratch.remainder)
            .enumerate()
        {
            *o = q + i64::from(rem > self.threshold || (rem == self.threshold && k < self.cut));
        }
    }
}

pub mod simd;

/// Bins of the remainder histogram in [`Split::new`] (a power of two).
const BUCKETS: usize = 1024;

/// Buffers of [`Split::new`].
#[derive(Default)]
pub(crate) struct SplitScratch {
    quota: Vec<i64>,
    remainder: Vec<i64>,
    select: Vec<i64>,
    hist: Vec<usize>,
    bin: Vec<u16>,
}

/// Integers closest to `values` (largest remainder, ties to the lower index) summing
/// exactly to `total`. Sums are kept in 128 bits; values whose grams do not fit 64 bits
/// (or are not finite) are an error naming the emission points that produced them.
pub fn round_to_total(values: &[f64], total: i64) -> CoreResult<Vec<i64>> {
    let n = values.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let too_large = || {
        CoreError::invalid(
            "emission_points",
            None,
            "a tenant's allocated emissions exceed 2^63 grams",
        )
    };
    let sum: f64 = values.iter().sum();
    let shift = (total as f64 - sum) / n as f64;
    let shifted: Vec<f64> = values.iter().map(|v| v + shift).collect();
    // Beyond 2^64 in magnitude no value can be brought back into 64 bits by the whole-gram
    // correction below (which is at most about the total); refusing them also keeps the
    // 128-bit sum from overflowing.
    if shifted
        .iter()
        .any(|v| v.is_nan() || v.abs() >= 18_446_744_073_709_551_616.0)
    {
        return Err(too_large());
    }
    let mut out: Vec<i128> = shifted.iter().map(|v| v.floor() as i128).collect();
    let mut left = i128::from(total) - out.iter().sum::<i128>();
    let whole = left.div_euclid(n as i128);
    if whole != 0 {
        out.iter_mut().for_each(|g| *g += whole);
        left -= whole * n as i128;
    }
    // Now 0 <= left < n: one more gram to the `left` largest fractional parts.
    let frac: Vec<f64> = shifted.iter().map(|v| v - v.floor()).collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| frac[b].total_cmp(&frac[a]).then(a.cmp(&b)));
    for &i in &order[..left as usize] {
        out[i] += 1;
    }
    out.into_iter()
        .map(|g| i64::try_from(g).map_err(|_| too_large()))
        .collect()
}

#[cfg(test)]
pub(crate) fn split_all(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum = weights.iter().sum();
    let mut scratch = SplitScratch::default();
    let s = Split::new(total, weights, sum, &mut scratch);
    let mut filled = vec![0; weights.len()];
    s.fill(&scratch, &mut filled);
    let shared: Vec<i64> = weights
        .iter()
        .enumerate()
        .map(|(k, &w)| s.share(w, k))
        .collect();
    assert_eq!(filled, shared);
    shared
}

/// A zeroed vector whose pages are already mapped: on Linux, `MADV_POPULATE_WRITE` maps
/// the (untouched, zeroed by `calloc`/`mmap`) pages in bulk, in parallel chunks, instead of
/// one page fault per 4 KiB on first write, which dominated writing gigabytes of results.
/// Elsewhere, or where the kernel refuses, the pages fault in as usual. (Transparent huge
/// pages via `MADV_HUGEPAGE` were measured: 200x fewer faults but twice the system time,
/// the kernel compacting memory to find 2 MiB pages, so they are not asked for.)
pub(crate) fn zeroed_populated<T: Cell>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        const CHUNK: usize = 32 << 20;
        let base = v.as_ptr() as usize;
        let end_byte = base + std::mem::size_of_val(v.as_slice());
        let start = base.next_multiple_of(PAGE);
        let end = end_byte / PAGE * PAGE;
        if end > start {
            (start..end).into_par_iter().step_by(CHUNK).for_each(|a| {
                let b = (a + CHUNK).min(end);
                // SAFETY: [a, b) lies inside the vector's allocation and is page-aligned;
                // populating pages for writing never changes their (zero) contents. A
                // failure (old kernel) only means the pages fault in later.
                unsafe {
                    libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_POPULATE_WRITE);
                }
            });
        }
    }
    v
}

#[cfg(test)]
mod tests;
