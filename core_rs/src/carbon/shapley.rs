//! Shapley allocation of a shared facility whose hourly emissions are a piecewise-linear
//! function of the aggregate load.
//!
//! # The game
//! In hour `h` the facility emits `f(U_h)` grams, `U_h = sum_i u_ih` the tenants' load and
//! `f` the piecewise-linear curve through the points `(load_points[k], emission_points[k])`
//! (`load_points[0] == 0`, strictly increasing; `U_h` must not exceed the last point: the
//! curve is not extrapolated). The players of hour `h` are the tenants with `u_ih > 0`;
//! a coalition `S` of them costs `v_h(S) = f(sum_{i in S} u_ih)` and `v_h({}) = 0`. So a
//! standby emission `f(0) > 0` is shared among the tenants present in the hour, and a
//! tenant with no load is a null player with exactly zero. Hours in which nobody draws
//! anything put `f(0)` into the explicit unallocated pool. Shapley values are additive over
//! games, so a tenant's annual value is the sum of its hourly values.
//!
//! # Exact: meet in the middle, `O(2^(n/2) * n * K)` per hour
//! With `w(s) = s! (n-1-s)! / n!` and `w(n) = 0`, the Shapley value is
//! `phi_i = sum_{T contains i} (w(|T|-1) + w(|T|)) v(T) - sum_T w(|T|) v(T)`. The players
//! are split into halves `A` and `B`; for every subset `a` of `A` and every size `s` of a
//! subset of `B`, `G(a, s) = sum_{|b| = s} f(x_a + y_b)` is computed in one sweep over `B`'s
//! sorted subset sums with prefix sums and one pointer per breakpoint of `f` (`f` is affine
//! between breakpoints). The sums over coalitions containing `i` then follow from `G`
//! without visiting the `2^n` coalitions. 20 tenants x 8 760 hours take about a second.
//!
//! # Sampled: antithetic permutations
//! Each sample is a pair: a uniformly random order of the hour's players and its reverse;
//! a player's estimate is the mean over pairs of its average marginal contribution in the
//! two orders, and its variance is estimated from the spread of the pairs. The reversed
//! order is strongly negatively correlated with the forward one for a function of the sum,
//! which cuts the variance. Each order's marginal contributions telescope to `v(N)`, so the
//! estimate is efficient by construction. Standard errors of annual values combine the
//! independent hours: `se_i = sqrt(sum_h var_ih)`. Each hour draws from its own PCG stream
//! seeded from `(seed, hour)`, so results do not depend on the thread count.
//!
//! # Grams
//! Hourly totals are `round(f(U_h))` grams (half away from zero). The annual real-valued
//! Shapley values of the tenants that were present in some hour are rounded to integers with
//! the largest-remainder rule (ties to the lower index) so that they sum exactly to the grams
//! of the hours someone was present; `tenants + unallocated == total` exactly. Values can be negative when `f`
//! decreases somewhere (a negative marginal contribution), as Shapley allows.

use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;

use crate::carbon::split::round_to_total;
use crate::error::{CoreError, CoreResult};

/// Exact computation is refused above this many tenants (2^12 subsets per half).
pub const EXACT_MAX_TENANTS: usize = 24;
/// With `exact: None`, exact up to this many tenants, sampled beyond.
pub const EXACT_BY_DEFAULT_UP_TO: usize = 20;
/// Permutations per hour (antithetic pairs count twice) when `samples` is not given.
pub const DEFAULT_SAMPLES: usize = 32;
/// Most permutations per hour a caller may ask for: the sampled path costs
/// O(samples * n * log K) per hour, so this bounds one hour of 1,000 tenants to about
/// 6.6e7 marginal evaluations; the standard error at this bound is already 1/45 of the
/// default's.
pub const MAX_SAMPLES: usize = 1 << 16;
/// Most hours one call may cover (about 114 years of hourly meters). With no tenants
/// `hours` is not bounded by the length of `use`, and the work is linear in it.
pub const MAX_HOURS: usize = 1_000_000;
/// Hours handled by one parallel task; fixed so the reduction order never changes.
const BLOCK_HOURS: usize = 32;

/// A piecewise-linear curve: affine on each segment `[xs[k], xs[k+1]]`.
#[derive(Debug, Clone)]
pub struct Curve {
    xs: Vec<f64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
}

impl Curve {
    /// Validate and build the curve through `(load, emission)` points.
    pub fn new(load_points: &[f64], emission_points: &[f64]) -> CoreResult<Self> {
        if load_points.len() != emission_points.len() {
            return Err(CoreError::invalid(
                "emission_points",
                None,
                format!(
                    "has {} points, load_points has {}",
                    emission_points.len(),
                    load_points.len()
                ),
            ));
        }
        if load_points.len() < 2 {
            return Err(CoreError::invalid(
                "load_points",
                None,
                "needs at least two points",
            ));
        }
        if load_points[0] != 0.0 {
            return Err(CoreError::invalid(
                "load_points",
                Some(0),
                "the first load point must be 0",
            ));
        }
        for (k, x) in load_points.iter().enumerate() {
            if !x.is_finite() || (k > 0 && *x <= load_points[k - 1]) {
                return Err(CoreError::invalid(
                    "load_points",
                    Some(k),
                    format!("{x} must be finite and strictly above the previous point"),
                ));
            }
        }
        for (k, y) in emission_points.iter().enumerate() {
            if !(y.is_finite() && *y >= 0.0) {
                return Err(CoreError::invalid(
                    "emission_points",
                    Some(k),
                    format!("{y} g must be finite and non-negative"),
                ));
            }
        }
        let segments = load_points.len() - 1;
        let mut alpha = Vec::with_capacity(segments);
        let mut beta = Vec::with_capacity(segments);
        for k in 0..segments {
            let b = (emission_points[k + 1] - emission_points[k])
                / (load_points[k + 1] - load_points[k]);
            beta.push(b);
            alpha.push(emission_points[k] - b * load_points[k]);
        }
        Ok(Self {
            xs: load_points.to_vec(),
            alpha,
            beta,
        })
    }

    /// The interior breakpoints `xs[1 .. len-1]`.
    fn breaks(&self) -> &[f64] {
        &self.xs[1..self.xs.len() - 1]
    }

    /// The largest load the curve covers.
    pub fn max_load(&self) -> f64 {
        self.xs[self.xs.len() - 1]
    }

    /// `f(z)` for `0 <= z <= max_load`.
    pub fn eval(&self, z: f64) -> f64 {
        let k = self.breaks().partition_point(|&t| t <= z);
        self.alpha[k] + self.beta[k] * z
    }
}

/// How to compute the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShapleyOptions {
    /// `Some(true)` exact, `Some(false)` sampled, `None` exact up to
    /// [`EXACT_BY_DEFAULT_UP_TO`] tenants.
    pub exact: Option<bool>,
    /// Permutations per hour when sampling (even, 4 to [`MAX_SAMPLES`]); default
    /// [`DEFAULT_SAMPLES`].
    pub samples: Option<usize>,
    /// Seed of the sampling streams.
    pub seed: u64,
}

/// The result of [`shapley_allocation`].
#[derive(Debug, Clone, PartialEq)]
pub struct Shapley {
    /// Grams per tenant, integers summing exactly to `total_g - unallocated_g`.
    pub co2e_g: Vec<i64>,
    /// The real-valued Shapley values (grams) before rounding.
    pub value_g: Vec<f64>,
    /// Standard error of each value (grams); zero when exact.
    pub se_g: Vec<f64>,
    /// Sum over hours of `round(f(U_h))`.
    pub total_g: i64,
    /// Grams of the hours in which no tenant drew anything.
    pub unallocated_g: i64,
    /// Whether the values are exact.
    pub exact: bool,
    /// Permutations per hour (0 when exact).
    pub samples: usize,
}

/// Shapley values of `n` tenants over `hours` hours; `use_` is row-major `n x hours`
/// (non-negative loads in the unit of `load_points`).
pub fn shapley_allocation(
    use_: &[f64],
    n: usize,
    hours: usize,
    load_points: &[f64],
    emission_points: &[f64],
    options: ShapleyOptions,
) -> CoreResult<Shapley> {
    let curve = Curve::new(load_points, emission_points)?;
    if hours > MAX_HOURS {
        return Err(CoreError::invalid(
            "hours",
            None,
            format!("{hours} is above the limit of {MAX_HOURS} hours per call"),
        ));
    }
    if use_.len() != n.saturating_mul(hours) {
        return Err(CoreError::invalid(
            "use",
            None,
            format!(
                "has {} values, expected n x hours = {n} x {hours}",
                use_.len()
            ),
        ));
    }
    // Every block of hours holds a value, a variance and a flag per tenant (with no hours,
    // `use` says nothing about `n`, which must still fit).
    let blocks = hours.div_ceil(BLOCK_HOURS) + 1;
    crate::budget::Need::new("n")
        .items(n, 17_usize.saturating_mul(blocks))
        .check()?;
    if let Some((i, h, u)) = use_
        .par_chunks(hours.max(1))
        .enumerate()
        .find_map_first(|(i, row)| {
            row.iter()
                .position(|u| !(u.is_finite() && *u >= 0.0))
                .map(|h| (i, h, row[h]))
        })
    {
        return Err(CoreError::invalid(
            "use",
            Some(i),
            format!("hour {h}: load {u} must be finite and non-negative"),
        ));
    }
    let exact = match options.exact {
        Some(true) if n > EXACT_MAX_TENANTS => {
            return Err(CoreError::invalid(
                "exact",
                None,
                format!("exact Shapley is limited to {EXACT_MAX_TENANTS} tenants, got {n}"),
            ))
        }
        Some(e) => e,
        None => n <= EXACT_BY_DEFAULT_UP_TO,
    };
    let samples = if exact {
        0
    } else {
        let s = options.samples.unwrap_or(DEFAULT_SAMPLES);
        if s < 4 || !s.is_multiple_of(2) {
            return Err(CoreError::invalid(
                "samples",
                None,
                format!("{s} must be even and at least 4 (antithetic pairs)"),
            ));
        }
        if s > MAX_SAMPLES {
            return Err(CoreError::invalid(
                "samples",
                None,
                format!("{s} is above the limit of {MAX_SAMPLES} permutations per hour"),
            ));
        }
        s
    };

    let game = Game {
        curve: &curve,
        use_,
        n,
        hours,
        samples,
        seed: options.seed,
    };
    let blocks: Vec<CoreResult<Block>> = (0..hours.div_ceil(BLOCK_HOURS))
        .into_par_iter()
        .map(|b| {
            let h0 = b * BLOCK_HOURS;
            let h1 = (h0 + BLOCK_HOURS).min(hours);
            let mut block = Block::new(n);
            for h in h0..h1 {
                block.add_hour(&game, h)?;
            }
            Ok(block)
        })
        .collect();
    let mut total = Block::new(n);
    for block in blocks {
        total.merge(&block?)?;
    }
    let present: Vec<usize> = (0..n).filter(|&i| total.present[i]).collect();
    let values: Vec<f64> = present.iter().map(|&i| total.value[i]).collect();
    let rounded = round_to_total(&values, total.total_g - total.unallocated_g)?;
    let mut co2e_g = vec![0_i64; n];
    for (&i, g) in present.iter().zip(rounded) {
        co2e_g[i] = g;
    }
    Ok(Shapley {
        co2e_g,
        value_g: total.value,
        se_g: total.var.iter().map(|v| v.sqrt()).collect(),
        total_g: total.total_g,
        unallocated_g: total.unallocated_g,
        exact,
        samples,
    })
}

/// What every hour's game shares: the emission curve, the loads (`n x hours`, row-major)
/// and how the values are computed (`samples` 0: exactly).
#[derive(Clone, Copy)]
struct Game<'a> {
    curve: &'a Curve,
    use_: &'a [f64],
    n: usize,
    hours: usize,
    samples: usize,
    seed: u64,
}

/// Per-tenant sums over a block of hours.
struct Block {
    value: Vec<f64>,
    var: Vec<f64>,
    present: Vec<bool>,
    total_g: i64,
    unallocated_g: i64,
}

impl Block {
    fn new(n: usize) -> Self {
        Self {
            value: vec![0.0; n],
            var: vec![0.0; n],
            present: vec![false; n],
            total_g: 0,
            unallocated_g: 0,
        }
    }

    fn merge(&mut self, other: &Block) -> CoreResult<()> {
        for i in 0..self.value.len() {
            self.value[i] += other.value[i];
            self.var[i] += other.var[i];
            self.present[i] |= other.present[i];
        }
        self.total_g = add_grams(self.total_g, other.total_g)?;
        self.unallocated_g = add_grams(self.unallocated_g, other.unallocated_g)?;
        Ok(())
    }

    fn add_hour(&mut self, game: &Game<'_>, h: usize) -> CoreResult<()> {
        let Game {
            curve,
            use_,
            n,
            hours,
            samples,
            seed,
        } = *game;
        let players: Vec<usize> = (0..n).filter(|&i| use_[i * hours + h] > 0.0).collect();
        let loads: Vec<f64> = players.iter().map(|&i| use_[i * hours + h]).collect();
        let load: f64 = loads.iter().sum();
        if load > curve.max_load() {
            return Err(CoreError::invalid(
                "use",
                None,
                format!(
                    "hour {h}: total load {load} exceeds the last load point {}",
                    curve.max_load()
                ),
            ));
        }
        let grams = curve.eval(load).round() as i64;
        self.total_g = add_grams(self.total_g, grams)?;
        if players.is_empty() {
            self.unallocated_g = add_grams(self.unallocated_g, grams)?;
            return Ok(());
        }
        if samples == 0 {
            let phi = exact_hour(curve, &loads);
            for (k, &i) in players.iter().enumerate() {
                self.value[i] += phi[k];
                self.present[i] = true;
            }
        } else {
            let stream = seed ^ (h as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = Pcg64Mcg::seed_from_u64(stream);
            let (phi, var) = sampled_hour(curve, &loads, samples / 2, &mut rng);
            for (k, &i) in players.iter().enumerate() {
                self.value[i] += phi[k];
                self.var[i] += var[k];
                self.present[i] = true;
            }
        }
        Ok(())
    }
}

/// `w(s) = s! (n-1-s)! / n!` for `s = 0..=n`, with `w(n) = 0`.
fn shapley_weights(n: usize) -> Vec<f64> {
    let mut w = vec![0.0; n + 1];
    w[0] = 1.0 / n as f64;
    for s in 1..n {
        w[s] = w[s - 1] * s as f64 / (n - s) as f64;
    }
    w
}

/// Subset sums of `u` (index = bit mask) and the masks sorted by sum.
fn subset_sums(u: &[f64]) -> (Vec<f64>, Vec<u32>) {
    let mut sums = vec![0.0; 1 << u.len()];
    for mask in 1_usize..sums.len() {
        let low = mask.trailing_zeros() as usize;
        sums[mask] = sums[mask & (mask - 1)] + u[low];
    }
    let mut order: Vec<u32> = (0..sums.len() as u32).collect();
    order.sort_by(|&a, &b| {
        sums[a as usize]
            .total_cmp(&sums[b as usize])
            .then(a.cmp(&b))
    });
    (sums, order)
}

/// `out[x_mask * (ny + 1) + s] = sum over y-subsets of size s of f(x_sum + y_sum)`.
fn sums_against(
    curve: &Curve,
    x_sums: &[f64],
    x_order: &[u32],
    y_sums: &[f64],
    y_order: &[u32],
    ny: usize,
) -> Vec<f64> {
    let groups = ny + 1;
    let mut out = vec![0.0; x_sums.len() * groups];
    let breaks = curve.breaks();
    let mut pointers = vec![0_usize; breaks.len()];
    for s in 0..groups {
        let ys: Vec<f64> = y_order
            .iter()
            .filter(|&&m| m.count_ones() as usize == s)
            .map(|&m| y_sums[m as usize])
            .collect();
        let mut prefix = Vec::with_capacity(ys.len() + 1);
        prefix.push(0.0);
        let mut acc = 0.0;
        for y in &ys {
            acc += y;
            prefix.push(acc);
        }
        let Some(&first) = x_order.first() else {
            continue;
        };
        let x0 = x_sums[first as usize];
        for (p, &t) in pointers.iter_mut().zip(breaks) {
            *p = ys.partition_point(|&y| x0 + y < t);
        }
        for &xm in x_order {
            let x = x_sums[xm as usize];
            let mut sum = 0.0;
            let mut lo = 0;
            for (k, (p, &t)) in pointers.iter_mut().zip(breaks).enumerate() {
                while *p > 0 && x + ys[*p - 1] >= t {
                    *p -= 1;
                }
                let hi = (*p).max(lo);
                sum += segment_sum(curve, k, x, hi - lo, prefix[hi] - prefix[lo]);
                lo = hi;
            }
            let k = breaks.len();
            sum += segment_sum(curve, k, x, ys.len() - lo, prefix[ys.len()] - prefix[lo]);
            out[xm as usize * groups + s] = sum;
        }
    }
    out
}

/// `sum over count loads y in segment k of f(x + y)`, given their sum.
fn segment_sum(curve: &Curve, k: usize, x: f64, count: usize, y_sum: f64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    count as f64 * (curve.alpha[k] + curve.beta[k] * x) + curve.beta[k] * y_sum
}

/// Exact Shapley values of one hour's game over the players' positive `loads`.
pub fn exact_hour(curve: &Curve, loads: &[f64]) -> Vec<f64> {
    let n = loads.len();
    if n == 0 {
        return Vec::new();
    }
    let w = shapley_weights(n);
    let c: Vec<f64> = (0..=n)
        .map(|s| if s == 0 { w[0] } else { w[s - 1] + w[s] })
        .collect();
    let na = n.div_ceil(2);
    let nb = n - na;
    let (xa, oa) = subset_sums(&loads[..na]);
    let (yb, ob) = subset_sums(&loads[na..]);
    let f0 = curve.eval(0.0);
    // g_a[a * (nb+1) + sb]: coalitions a + (any b of size sb); the empty coalition costs 0.
    let mut g_a = sums_against(curve, &xa, &oa, &yb, &ob, nb);
    let mut g_b = sums_against(curve, &yb, &ob, &xa, &oa, na);
    g_a[0] -= f0;
    g_b[0] -= f0;
    let mut phi = vec![0.0; n];
    let mut common = 0.0;
    for (a, row) in g_a.chunks(nb + 1).enumerate() {
        let sa = (a as u32).count_ones() as usize;
        let mut with = 0.0;
        for (sb, g) in row.iter().enumerate() {
            with += c[sa + sb] * g;
            common += w[sa + sb] * g;
        }
        for (i, p) in phi[..na].iter_mut().enumerate() {
            if a >> i & 1 == 1 {
                *p += with;
            }
        }
    }
    for (b, row) in g_b.chunks(na + 1).enumerate() {
        let sb = (b as u32).count_ones() as usize;
        let with: f64 = row.iter().enumerate().map(|(sa, g)| c[sa + sb] * g).sum();
        for (i, p) in phi[na..].iter_mut().enumerate() {
            if b >> i & 1 == 1 {
                *p += with;
            }
        }
    }
    for p in &mut phi {
        *p -= common;
    }
    phi
}

/// Sampled Shapley values of one hour: `pairs` antithetic pairs of orders. Returns each
/// player's estimate and the variance of that estimate.
fn sampled_hour(
    curve: &Curve,
    loads: &[f64],
    pairs: usize,
    rng: &mut Pcg64Mcg,
) -> (Vec<f64>, Vec<f64>) {
    let n = loads.len();
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut mean = vec![0.0; n];
    let mut m2 = vec![0.0; n];
    let mut forward = vec![0.0; n];
    let breaks = curve.breaks();
    for p in 0..pairs {
        // Fisher-Yates; the multiply-shift draw's bias is below n / 2^64.
        for k in (1..n).rev() {
            let j = ((u128::from(rng.next_u64()) * (k as u128 + 1)) >> 64) as usize;
            order.swap(k, j);
        }
        let walk = |sequence: &mut dyn Iterator<Item = u32>, sink: &mut dyn FnMut(usize, f64)| {
            let (mut load, mut before, mut seg) = (0.0, 0.0, 0);
            for i in sequence {
                load += loads[i as usize];
                while seg < breaks.len() && breaks[seg] <= load {
                    seg += 1;
                }
                let after = curve.alpha[seg] + curve.beta[seg] * load;
                sink(i as usize, after - before);
                before = after;
            }
        };
        walk(&mut order.iter().copied(), &mut |i, m| forward[i] = m);
        let count = (p + 1) as f64;
        walk(&mut order.iter().rev().copied(), &mut |i, m| {
            let d = 0.5 * (forward[i] + m);
            let delta = d - mean[i];
            mean[i] += delta / count;
            m2[i] += delta * (d - mean[i]);
        });
    }
    let pairs_f = pairs as f64;
    let var = m2.iter().map(|m| m / (pairs_f - 1.0) / pairs_f).collect();
    (mean, var)
}

/// `a + b` grams, or an error naming the emission points when the total passes 64 bits
/// (emission points of astronomical size; found by fuzzing).
fn add_grams(a: i64, b: i64) -> CoreResult<i64> {
    a.checked_add(b).ok_or_else(|| {
        CoreError::invalid(
            "emission_points",
            None,
            "the emissions summed over the hours exceed 2^63 grams",
        )
    })
}

#[cfg(test)]
mod tests;
