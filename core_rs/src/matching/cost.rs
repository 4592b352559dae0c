//! The cost types the dense solver runs on (`i64` and `f64` from callers, `i32` inside),
//! with the bounds that keep its distances and potentials in range.

use rayon::prelude::*;

/// A cost type the dense solver runs on: `i64` (exact), `i32` (exact, internal) or `f64`.
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
    /// The largest `|cost|` when every entry is usable, else `None` (the fast, vectorised
    /// test before [`Cost::unusable`] names the first bad one).
    fn usable_max_abs(costs: &[Self], size: usize) -> Option<f64>;
    /// The costs (negated when `negate`) as `i32` when the exact 32-bit range holds them,
    /// with the largest `|cost|`.
    fn narrow(_costs: &[Self], _size: usize, _negate: bool) -> Option<(Vec<i32>, f64)> {
        None
    }
    /// A 32-bit result back in this type (only called when [`Cost::narrow`] succeeded).
    fn widen(x: i32) -> Self;
    /// An integer as wide as this type, for positions kept beside values in vector lanes.
    type Lane: Copy + std::ops::Add<Output = Self::Lane> + Send + Sync;
    /// Position `j` as a [`Cost::Lane`], exactly (`j < 2^30` for `i32`, which
    /// [`Cost::narrow`] guarantees).
    fn lane(j: usize) -> Self::Lane;
    /// The position that [`Cost::lane`] made.
    fn unlane(x: Self::Lane) -> u32;
}

/// Largest `|cost|` the solver accepts in a type of span `2^bits` for `size` rows plus
/// columns: distances and potentials then stay within a quarter of the type's range.
pub(crate) const fn exact_limit(bits: u32, size: usize) -> i64 {
    (1_i64 << bits) / (8 * (size as i64 + 2))
}

impl Cost for i64 {
    const ZERO: Self = 0;
    const INF: Self = i64::MAX / 4;
    const NEG: Self = i64::MIN / 4;
    fn unusable(self, size: usize) -> Option<String> {
        let limit = exact_limit(62, size);
        (self.unsigned_abs() > limit as u64)
            .then(|| format!("|{self}| exceeds {limit}, the exact range for this shape"))
    }
    fn usable_max_abs(costs: &[Self], size: usize) -> Option<f64> {
        let limit = exact_limit(62, size);
        let (lo, hi) = min_max(costs);
        (lo >= -limit && hi <= limit).then(|| max_abs(lo, hi))
    }
    fn narrow(costs: &[Self], size: usize, negate: bool) -> Option<(Vec<i32>, f64)> {
        // One pass: truncating copy and range together (a wide matrix wastes the copy).
        if size >= 1 << 30 {
            return None; // columns must fit the i32 lanes of the kernels
        }
        let limit = exact_limit(30, size);
        let sign = if negate { -1 } else { 1 };
        let mut out = vec![0_i32; costs.len()];
        // Fresh zero pages, not touched yet: fault them in 2 MiB at a time.
        super::graph::huge_pages(&out);
        let avx2 = super::dense_kernels::has_avx2();
        let (lo, hi) = out
            .par_chunks_mut(1 << 16)
            .zip(costs.par_chunks(1 << 16))
            .map(|(o, c)| narrow_chunk(avx2, o, c, sign))
            .reduce(
                || (i64::MAX, i64::MIN),
                |(a, b), (c, d)| (a.min(c), b.max(d)),
            );
        // In range, so every truncation above was exact.
        (lo >= -limit && hi <= limit).then(|| (out, max_abs(lo, hi)))
    }
    type Lane = i64;
    fn lane(j: usize) -> i64 {
        j as i64
    }
    fn unlane(x: i64) -> u32 {
        x as u32
    }
    fn widen(x: i32) -> Self {
        i64::from(x)
    }
}

impl Cost for i32 {
    const ZERO: Self = 0;
    const INF: Self = i32::MAX / 4;
    const NEG: Self = i32::MIN / 4;
    fn unusable(self, size: usize) -> Option<String> {
        let limit = exact_limit(30, size);
        (i64::from(self).abs() > limit)
            .then(|| format!("|{self}| exceeds {limit}, the exact 32-bit range for this shape"))
    }
    fn usable_max_abs(costs: &[Self], size: usize) -> Option<f64> {
        costs.iter().all(|c| c.unusable(size).is_none()).then(|| {
            costs
                .iter()
                .fold(0.0, |a: f64, &c| a.max(f64::from(c).abs()))
        })
    }
    type Lane = i32;
    fn lane(j: usize) -> i32 {
        j as i32
    }
    fn unlane(x: i32) -> u32 {
        x as u32
    }
    fn widen(x: i32) -> Self {
        x
    }
}

impl Cost for f64 {
    const ZERO: Self = 0.0;
    const INF: Self = f64::INFINITY;
    const NEG: Self = f64::NEG_INFINITY;
    fn unusable(self, _size: usize) -> Option<String> {
        (!self.is_finite()).then(|| format!("{self} is not a finite number"))
    }
    fn usable_max_abs(costs: &[Self], _size: usize) -> Option<f64> {
        let avx2 = super::dense_kernels::has_avx2();
        let chunk_max = |chunk: &[f64]| finite_max_abs(avx2, chunk);
        costs
            .par_chunks(1 << 18)
            .map(chunk_max)
            .reduce(|| Some(0.0), |a, b| Some(a?.max(b?)))
    }
    type Lane = i64;
    fn lane(j: usize) -> i64 {
        j as i64
    }
    fn unlane(x: i64) -> u32 {
        x as u32
    }
    fn widen(x: i32) -> Self {
        f64::from(x)
    }
}

/// `o = (c * sign) as i32` (truncating) and the range of `c`, in lanes so that it
/// vectorises; with AVX2 when the CPU has it (64-bit compares need SSE4.2 at least).
fn narrow_chunk(avx2: bool, o: &mut [i32], c: &[i64], sign: i64) -> (i64, i64) {
    #[inline(always)]
    fn kernel(o: &mut [i32], c: &[i64], sign: i64) -> (i64, i64) {
        const L: usize = 8;
        let mut lo = [i64::MAX; L];
        let mut hi = [i64::MIN; L];
        let split = c.len() - c.len() % L;
        for (oo, cc) in o[..split]
            .chunks_exact_mut(L)
            .zip(c[..split].chunks_exact(L))
        {
            for k in 0..L {
                lo[k] = lo[k].min(cc[k]);
                hi[k] = hi[k].max(cc[k]);
                oo[k] = cc[k].wrapping_mul(sign) as i32;
            }
        }
        let (mut a, mut b) = (i64::MAX, i64::MIN);
        for k in 0..L {
            (a, b) = (a.min(lo[k]), b.max(hi[k]));
        }
        for (oo, &cc) in o[split..].iter_mut().zip(&c[split..]) {
            (a, b) = (a.min(cc), b.max(cc));
            *oo = cc.wrapping_mul(sign) as i32;
        }
        (a, b)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn kernel_avx2(o: &mut [i32], c: &[i64], sign: i64) -> (i64, i64) {
        kernel(o, c, sign)
    }
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reports AVX2 (`has_avx2`).
        return unsafe { kernel_avx2(o, c, sign) };
    }
    let _ = avx2;
    kernel(o, c, sign)
}

/// The largest `|x|` when every `x` is finite. In lanes, so that it vectorises (with AVX2
/// when the CPU has it): `x * 0` is 0 for a finite `x` and NaN for a NaN or an infinity,
/// so a lane's sum of them stays 0 only over finite entries.
fn finite_max_abs(avx2: bool, chunk: &[f64]) -> Option<f64> {
    #[inline(always)]
    fn kernel(chunk: &[f64]) -> Option<f64> {
        const L: usize = 8;
        let mut top = [0.0f64; L];
        let mut poison = [0.0f64; L];
        let lanes = chunk.chunks_exact(L);
        let rest = lanes.remainder();
        for c in lanes {
            for k in 0..L {
                let a = c[k].abs();
                poison[k] += c[k] * 0.0;
                top[k] = if a > top[k] { a } else { top[k] };
            }
        }
        let mut all = poison.iter().all(|&p| p == 0.0);
        let mut best = top.iter().fold(0.0f64, |a, &b| a.max(b));
        for &x in rest {
            all &= x.is_finite();
            best = best.max(x.abs());
        }
        all.then_some(best)
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn kernel_avx2(chunk: &[f64]) -> Option<f64> {
        kernel(chunk)
    }
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when the running CPU reports AVX2 (`has_avx2`).
        return unsafe { kernel_avx2(chunk) };
    }
    let _ = avx2;
    kernel(chunk)
}

/// `max(|lo|, |hi|)` as `f64`.
fn max_abs(lo: i64, hi: i64) -> f64 {
    lo.unsigned_abs().max(hi.unsigned_abs()) as f64
}

/// The smallest and largest entry (`(i64::MAX, i64::MIN)` when empty), in parallel.
fn min_max(costs: &[i64]) -> (i64, i64) {
    costs
        .par_chunks(1 << 16)
        .map(|chunk| {
            chunk
                .iter()
                .fold((i64::MAX, i64::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)))
        })
        .reduce(
            || (i64::MAX, i64::MIN),
            |(a, b), (c, d)| (a.min(c), b.max(d)),
        )
}
