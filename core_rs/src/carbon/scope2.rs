//! Scope 2 electricity emissions of a park, per tenant and hour, exact in integer Wh and
//! integer grams.
//!
//! # The rules (hour `h`, tenant `i`; energy in Wh, emissions in g)
//! 1. **On-site PV** `PV_h` is shared by one of three keys ([`PvSharing`]):
//!    - *pro rata*: the park uses `min(PV_h, sum_i L_ih)`, split in proportion to load
//!      with the largest-remainder rule of [`Split`] (so `PV_ih <= L_ih`);
//!    - *contract share*: `PV_h` is split by fixed integer parts `s_i` (largest remainder),
//!      tenant `i` uses `min(entitlement_ih, L_ih)`; an unused entitlement is exported, never
//!      passed to another tenant;
//!    - *priority*: tenants in a fixed order take `min(L_ih, what is left)`.
//!
//!    Whatever the key, `export_h = PV_h - sum_i PV_ih >= 0`.
//! 2. **Green power.** Each contract `c` (PPA, 绿电交易, granular certificate pool) has an
//!    hourly volume `G_ch`, split among its holders by fixed integer parts `a_ci` (largest
//!    remainder, so `sum_i G_cih == G_ch` exactly); certificates already claimed per
//!    tenant-hour (`Z_ih`, de-duplicated by the caller) are added:
//!    `green_ih = Z_ih + sum_c G_cih`. Matching is hourly with no carry:
//!    `M_ih = min(L_ih - PV_ih, green_ih)`, and `excess_h = sum_i (green_ih - M_ih)`, so
//!    `sum_i M_ih + excess_h == sum_i green_ih` exactly. Annual matching, for comparison:
//!    `min(sum_h (L_ih - PV_ih), sum_h green_ih)` per tenant.
//! 3. **Emissions.** Grid draw `D_ih = L_ih - PV_ih`, residual `R_ih = D_ih - M_ih >= 0`.
//!    Location-based `round(D_ih * EF_loc)`, market-based `round(R_ih * EF_res)` (contracts
//!    are zero-emission), with factors in integer micrograms per Wh (= kg/kWh x 10^6) and
//!    `round(x) = floor(x + 1/2)`, exact in 64-bit unsigned arithmetic (energy up to
//!    [`MAX_WH`], factor up to [`MAX_FACTOR_UG_PER_WH`]): monotone in the energy and the
//!    factor, so more green power never raises any tenant's market-based figure.
//! 4. **Losses.** With a gate import meter `I_h`, `loss_h = I_h - sum_i D_ih` (must be
//!    `>= 0`); its emissions `round(loss_h * EF)` (per method) go either wholly to the
//!    landlord, or are grossed up on the tenants in proportion to their grid draw `D_ih`
//!    (largest remainder; the landlord keeps them in an hour with no draw).
//!
//! So, per hour and per method, `sum_i g_ih + sum_i loss_g_ih + landlord_g_h` is the park's
//! inventory `sum_i g_ih + loss_g_h`, exactly.
//!
//! Complexity: O((n + nnz(a)) * H), parallel over blocks of hours on the engine pool; the
//! result holds four (six with gross-up) `n x H` arrays.

use rayon::prelude::*;

use crate::budget::Need;
use crate::carbon::pro_rata::MAX_TOTAL_G;
use crate::error::{CoreError, CoreResult};

/// The largest energy accepted in one tenant-hour, hour or contract-hour, Wh (2^42).
pub const MAX_WH: i64 = MAX_TOTAL_G;
/// The largest emission factor accepted, micrograms per Wh (2 kg CO2e/kWh).
pub const MAX_FACTOR_UG_PER_WH: i64 = 2_000_000;
/// The largest tenant count: weights (each at most 2^42) then sum below 2^61.
pub const MAX_TENANTS: usize = 1 << 18;
const UG_PER_G: u64 = 1_000_000;

/// How on-site PV is shared among tenants within an hour.
#[derive(Debug, Clone, Copy)]
pub enum PvSharing<'a> {
    /// In proportion to each tenant's load in the hour.
    ProRata,
    /// By fixed integer parts per tenant (length `n`, not all zero).
    ContractShare(&'a [i64]),
    /// Tenants served in this order (a permutation of `0..n`), first fully first.
    Priority(&'a [usize]),
}

/// Who carries the emissions of the park's distribution losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossPolicy {
    /// The landlord (park common) pool.
    Landlord,
    /// The tenants, in proportion to their grid draw in the hour.
    GrossUp,
}

/// The inputs of [`scope2`]; arrays are row-major.
#[derive(Debug, Clone, Copy)]
pub struct Scope2Input<'a> {
    pub n: usize,
    pub hours: usize,
    /// `n x hours` metered load.
    pub load_wh: &'a [i64],
    /// `hours` on-site PV generation.
    pub pv_wh: &'a [i64],
    pub pv_sharing: PvSharing<'a>,
    /// `contracts x hours` green volume per contract.
    pub contract_wh: &'a [i64],
    /// `contracts x n` integer parts of each contract held by each tenant.
    pub contract_share: &'a [i64],
    /// `n x hours` certificates already claimed per tenant-hour, if any.
    pub certificate_wh: Option<&'a [i64]>,
    /// `hours` import at the park's grid connection, if metered.
    pub gate_import_wh: Option<&'a [i64]>,
    pub loss_policy: LossPolicy,
    /// Location-based factor, micrograms per Wh.
    pub location_ug_per_wh: i64,
    /// Residual-mix factor for market-based, micrograms per Wh.
    pub residual_ug_per_wh: i64,
    /// Also return PV and matched energy per tenant-hour (otherwise only their totals).
    pub detail: bool,
}

/// Per-tenant annual totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantTotals {
    pub load_wh: Vec<i64>,
    pub pv_wh: Vec<i64>,
    pub green_wh: Vec<i64>,
    pub matched_wh: Vec<i64>,
    /// `min(sum_h (L - PV), sum_h green)`.
    pub annual_matched_wh: Vec<i64>,
    pub location_g: Vec<i64>,
    pub market_g: Vec<i64>,
    pub loss_location_g: Vec<i64>,
    pub loss_market_g: Vec<i64>,
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

/// The result of [`scope2`]: `n x hours` arrays row-major (of `T`), hourly vectors of
/// `hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope2<T: Cell = i64> {
    pub n: usize,
    pub hours: usize,
    pub location_g: Vec<T>,
    pub market_g: Vec<T>,
    /// PV and matched energy per tenant-hour (empty unless `detail`).
    pub pv_wh: Vec<T>,
    pub matched_wh: Vec<T>,
    /// Tenants' shares of the loss emissions (empty unless [`LossPolicy::GrossUp`]).
    pub loss_location_g: Vec<T>,
    pub loss_market_g: Vec<T>,
    pub export_wh: Vec<i64>,
    /// Green energy available per hour, `sum_i green_ih`.
    pub green_wh: Vec<i64>,
    pub excess_wh: Vec<i64>,
    pub loss_wh: Vec<i64>,
    /// Loss emissions per hour (before any gross-up), per method.
    pub loss_location_total_g: Vec<i64>,
    pub loss_market_total_g: Vec<i64>,
    /// What the landlord keeps per hour, per method.
    pub landlord_location_g: Vec<i64>,
    pub landlord_market_g: Vec<i64>,
    pub tenants: TenantTotals,
}

/// `round(energy * factor / 10^6)` with ties up; exact for the documented ranges.
#[inline]
pub fn grams(energy_wh: i64, ug_per_wh: i64) -> i64 {
    grams_with(energy_wh, Factor::new(ug_per_wh))
}

/// An emission factor, integer micrograms per Wh and (for the estimate) grams per Wh.
#[derive(Debug, Clone, Copy)]
struct Factor {
    ug_per_wh: i64,
    g_per_wh: f64,
}

impl Factor {
    fn new(ug_per_wh: i64) -> Self {
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
fn grams_with(energy_wh: i64, factor: Factor) -> i64 {
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
fn quota(total: i64, sum: i64, ratio: f64, w: i64) -> (i64, i64) {
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
    total: i64,
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
    fn quota(&self, w: i64) -> (i64, i64) {
        quota(self.total, self.sum, self.ratio, w)
    }

    /// The share of the weight `w` at position `k`.
    #[inline(always)]
    fn share(&self, w: i64, k: usize) -> i64 {
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

pub(crate) mod simd;

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

#[cfg(test)]
fn split_all(total: i64, weights: &[i64]) -> Vec<i64> {
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

fn check_range(values: &[i64], field: &str, width: usize) -> CoreResult<()> {
    if width == 0 {
        return Ok(());
    }
    let bad = values
        .par_chunks(width)
        .enumerate()
        .find_map_first(|(row, chunk)| {
            // A branch-free (vectorised) scan first; the position only for a bad row. An
            // unsigned comparison catches negative values too.
            let bad = chunk
                .iter()
                .fold(false, |bad, &v| bad | (v as u64 > MAX_WH as u64));
            if !bad {
                return None;
            }
            chunk
                .iter()
                .position(|v| !(0..=MAX_WH).contains(v))
                .map(|k| (row, k, chunk[k]))
        });
    match bad {
        None => Ok(()),
        Some((row, k, v)) => Err(CoreError::invalid(
            field,
            Some(row),
            if width > 1 {
                format!("hour {k}: {v} must be in [0, {MAX_WH}]")
            } else {
                format!("{v} must be in [0, {MAX_WH}]")
            },
        )),
    }
}

fn check_len(values: &[i64], expected: usize, field: &str, shape: &str) -> CoreResult<()> {
    if values.len() == expected {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            None,
            format!("has {} values, expected {shape} = {expected}", values.len()),
        ))
    }
}

/// Per contract, the tenants holding a positive part and those parts.
struct Holders {
    tenants: Vec<usize>,
    parts: Vec<i64>,
    sum: i64,
}

/// The hourly sums and the largest value of the tenant-major `n x hours` array `values`,
/// whose values are checked to lie in `[0, MAX_WH]` in the same pass (one read of the
/// largest input); the error names the tenant and the hour. Parallel over blocks of
/// tenants.
fn column_sums(values: &[i64], hours: usize, field: &str) -> CoreResult<(Vec<i64>, i64)> {
    if hours == 0 {
        return Ok((Vec::new(), 0));
    }
    const ROWS: usize = 32;
    let add = |(mut a, x): (Vec<i64>, u64), (b, y): (Vec<i64>, u64)| {
        for (p, &q) in a.iter_mut().zip(&b) {
            *p = p.wrapping_add(q);
        }
        (a, x.max(y))
    };
    let (sums, largest) = values
        .par_chunks(hours * ROWS)
        .fold(
            || (vec![0_i64; hours], 0_u64),
            |(mut acc, mut largest), rows| {
                for row in rows.chunks(hours) {
                    // Branch-free (vectorised); as unsigned, negatives are the largest.
                    // The sums wrap only on bad values, which are reported instead.
                    for (a, &v) in acc.iter_mut().zip(row) {
                        *a = a.wrapping_add(v);
                        largest = largest.max(v as u64);
                    }
                }
                (acc, largest)
            },
        )
        .reduce(|| (vec![0_i64; hours], 0), add);
    if largest > MAX_WH as u64 {
        check_range(values, field, hours)?;
    }
    Ok((sums, largest as i64))
}

/// What [`validate`] finds.
struct Validated {
    contracts: usize,
    /// Each contract's holders.
    holders: Vec<Holders>,
    /// The park's load per hour.
    park_load: Vec<i64>,
    /// The largest tenant-hour load.
    max_load: i64,
}

fn validate(input: &Scope2Input<'_>) -> CoreResult<Validated> {
    let (n, hours) = (input.n, input.hours);
    if n > MAX_TENANTS {
        return Err(CoreError::invalid(
            "load_wh",
            None,
            format!("{n} tenants exceed the limit of {MAX_TENANTS}"),
        ));
    }
    let cells = n.checked_mul(hours).ok_or_else(|| {
        CoreError::invalid(
            "load_wh",
            None,
            format!("{n} tenants x {hours} hours overflows"),
        )
    })?;
    check_len(input.load_wh, cells, "load_wh", "tenants x hours")?;
    check_len(input.pv_wh, hours, "pv_wh", "hours")?;
    if let Some(z) = input.certificate_wh {
        check_len(z, cells, "certificate_wh", "tenants x hours")?;
        check_range(z, "certificate_wh", hours)?;
    }
    if let Some(g) = input.gate_import_wh {
        check_len(g, hours, "gate_import_wh", "hours")?;
        check_range(g, "gate_import_wh", 1)?;
    }
    let (park_load, max_load) = column_sums(input.load_wh, hours, "load_wh")?;
    check_range(input.pv_wh, "pv_wh", 1)?;
    let contracts = input
        .contract_wh
        .len()
        .checked_div(hours)
        .or_else(|| input.contract_share.len().checked_div(n))
        .unwrap_or(0);
    check_len(
        input.contract_wh,
        contracts.saturating_mul(hours),
        "contract_wh",
        "contracts x hours",
    )?;
    check_len(
        input.contract_share,
        contracts.saturating_mul(n),
        "contract_share",
        "contracts x tenants",
    )?;
    check_range(input.contract_wh, "contract_wh", hours)?;
    check_range(input.contract_share, "contract_share", n)?;
    for (field, ug) in [
        ("location_factor", input.location_ug_per_wh),
        ("residual_factor", input.residual_ug_per_wh),
    ] {
        if !(0..=MAX_FACTOR_UG_PER_WH).contains(&ug) {
            return Err(CoreError::invalid(
                field,
                None,
                format!("{ug} ug/Wh must be in [0, {MAX_FACTOR_UG_PER_WH}]"),
            ));
        }
    }
    match input.pv_sharing {
        PvSharing::ProRata => {}
        PvSharing::ContractShare(parts) => {
            check_len(parts, n, "pv_share", "tenants")?;
            check_range(parts, "pv_share", 1)?;
            if n > 0 && parts.iter().all(|&p| p == 0) {
                return Err(CoreError::invalid(
                    "pv_share",
                    None,
                    "every share is zero: nobody holds the PV",
                ));
            }
        }
        PvSharing::Priority(order) => {
            if order.len() != n {
                return Err(CoreError::invalid(
                    "pv_priority",
                    None,
                    format!("has {} values, expected tenants = {n}", order.len()),
                ));
            }
            let mut seen = vec![false; n];
            for (k, &i) in order.iter().enumerate() {
                if i >= n || seen[i] {
                    return Err(CoreError::invalid(
                        "pv_priority",
                        Some(k),
                        format!("{i} is not an unused tenant index in [0, {n})"),
                    ));
                }
                seen[i] = true;
            }
        }
    }
    let holders = input
        .contract_share
        .chunks(n.max(1))
        .take(contracts)
        .enumerate()
        .map(|(c, parts)| {
            let tenants: Vec<usize> = (0..parts.len()).filter(|&i| parts[i] > 0).collect();
            let parts: Vec<i64> = tenants.iter().map(|&i| parts[i]).collect();
            let sum = parts.iter().sum();
            if sum == 0 && n > 0 {
                return Err(CoreError::invalid(
                    "contract_share",
                    Some(c),
                    "every share of this contract is zero: nobody holds it",
                ));
            }
            Ok(Holders {
                tenants,
                parts,
                sum,
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
    Ok(Validated {
        contracts,
        holders,
        park_load,
        max_load,
    })
}

/// What phase one finds for one hour: everything the tenant-major phase two needs to
/// recompute any tenant's figures from its own row, and the hour's totals.
#[derive(Debug, Clone, Copy)]
struct Hour {
    /// PV split (pro rata over loads, or over the PV parts).
    pv: Split,
    /// Priority: positions below this are fully served; this one gets `partial`.
    served: usize,
    partial: i64,
    export: i64,
    green: i64,
    excess: i64,
    loss: i64,
    loss_location: i64,
    loss_market: i64,
    /// Gross-up of the loss emissions over the grid draws (NONE: the landlord keeps them).
    gross_location: Split,
    gross_market: Split,
    landlord_location: i64,
    landlord_market: i64,
}

/// Per-worker buffers of phase one: one block of hours, hour-major.
#[derive(Default)]
struct Scratch {
    /// The hours gathered.
    cols: Vec<usize>,
    load: Vec<i64>,
    cert: Vec<i64>,
    pv: Vec<i64>,
    draw: Vec<i64>,
    split: SplitScratch,
}

/// Hours per phase-one block: the block's loads stay in the core's cache.
const BLOCK_HOURS: usize = 64;

/// Scope 2 for every tenant and hour with the rules of the module documentation.
///
/// Two phases, both parallel: per block of hours, the cross-tenant quantities of each hour
/// (largest-remainder thresholds, priority cut-offs; the park's load per hour comes from
/// the validation pass); then per tenant, its row of every output, streamed, and the
/// hourly matched energy summed on the way. With pro-rata PV and neither certificates nor
/// a gross-up (the common park), phase one reads only the hours with PV to share, and
/// phase two's loop is branch-free and vectorised (see [`simd`]).
///
/// Errors name the field and row: `load_wh` / `certificate_wh` (tenant), `pv_wh` /
/// `gate_import_wh` (hour), `contract_wh` / `contract_share` (contract) for values out of
/// `[0, 2^42]` or lengths that do not match; `pv_share` / `pv_priority` for an invalid key;
/// `gate_import_wh` (hour) when the gate meter reads less than the tenants' grid draw.
pub fn scope2(input: &Scope2Input<'_>) -> CoreResult<Scope2> {
    run(input, validate(input)?)
}

/// [`scope2`] in either width: [`Scope2Cells::Narrow`] when every value of the
/// `n x hours` results is known to fit in `i32` (loads up to 2^31 - 1 Wh, and every
/// tenant-hour's grams and loss grams, bounded from the largest load, gate reading and
/// factor, up to 2^31 - 1 g), which halves the memory the results take and write; the
/// integers are the same.
pub fn scope2_compact(input: &Scope2Input<'_>) -> CoreResult<Scope2Cells> {
    let checked = validate(input)?;
    let ug = input.location_ug_per_wh.max(input.residual_ug_per_wh);
    let gate = match (input.loss_policy, input.gate_import_wh) {
        (LossPolicy::GrossUp, Some(g)) => g.iter().copied().max().unwrap_or(0),
        _ => 0,
    };
    let largest = checked
        .max_load
        .max(grams(checked.max_load, ug))
        .max(grams(gate, ug));
    Ok(if largest <= i64::from(i32::MAX) {
        Scope2Cells::Narrow(run(input, checked)?)
    } else {
        Scope2Cells::Wide(run(input, checked)?)
    })
}

/// The result of [`scope2_compact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope2Cells {
    Narrow(Scope2<i32>),
    Wide(Scope2<i64>),
}

fn run<T: Cell>(input: &Scope2Input<'_>, checked: Validated) -> CoreResult<Scope2<T>> {
    let Validated {
        contracts,
        holders,
        park_load,
        ..
    } = checked;
    let (n, hours) = (input.n, input.hours);
    // The six tenant-hour results and the per-tenant-hour scratch.
    Need::new("load_wh")
        .items(n, hours.saturating_mul(6 * std::mem::size_of::<T>() + 8))
        .check()?;
    let gross_up = input.loss_policy == LossPolicy::GrossUp && input.gate_import_wh.is_some();
    let pv_parts_sum: i64 = match input.pv_sharing {
        PvSharing::ContractShare(parts) => parts.iter().sum(),
        _ => 0,
    };
    // Pro rata without certificates or gross-up: phase two finds every tenant's PV share
    // from the hour's split and its own load, so phase one needs only the hours' splits.
    let lazy = matches!(input.pv_sharing, PvSharing::ProRata)
        && input.certificate_wh.is_none()
        && !gross_up;
    // Phase one (hours), while the output pages are mapped: both are parallel, and
    // joining them keeps both cores busy through the kernel's page supply.
    let blocks = hours.div_ceil(BLOCK_HOURS);
    let size = n * hours;
    let wanted = [true, true, input.detail, input.detail, gross_up, gross_up];
    let allocate = || -> Vec<Vec<T>> {
        wanted
            .par_iter()
            .map(|&w| {
                if w {
                    zeroed_populated(size)
                } else {
                    Vec::new()
                }
            })
            .collect()
    };
    let hours_phase = || -> Vec<CoreResult<(Vec<Hour>, Vec<Split>)>> {
        (0..blocks)
            .into_par_iter()
            .map_init(Scratch::default, |scratch, b| {
                let h0 = b * BLOCK_HOURS;
                let h1 = (h0 + BLOCK_HOURS).min(hours);
                let block = Block {
                    contracts,
                    holders: &holders,
                    park_load: &park_load,
                    pv_parts_sum,
                    gross_up,
                    lazy,
                };
                block.hours(input, h0, h1, scratch)
            })
            .collect()
    };
    let (phase_one, mut outputs) = rayon::join(hours_phase, allocate);
    let mut hour = Vec::with_capacity(hours);
    let mut contract_split = Vec::with_capacity(hours * contracts);
    for r in phase_one {
        let (h, c) = r?;
        hour.extend(h);
        contract_split.extend(c);
    }
    // Each tenant's holdings: (contract, position among its holders, part).
    let mut holdings: Vec<Vec<(usize, usize, i64)>> = vec![Vec::new(); n];
    for (c, holder) in holders.iter().enumerate() {
        for (k, (&i, &part)) in holder.tenants.iter().zip(&holder.parts).enumerate() {
            holdings[i].push((c, k, part));
        }
    }
    let mut rank = vec![0_usize; n];
    if let PvSharing::Priority(order) = input.pv_sharing {
        for (k, &i) in order.iter().enumerate() {
            rank[i] = k;
        }
    }
    // Phase two: tenants, tiled (a chunk of tenants x a tile of hours) so that the hours'
    // parameters stay in cache while each tenant's rows are streamed.
    let mut rows: Vec<RowOut<'_, T>> = (0..n).map(|_| RowOut::default()).collect();
    if hours > 0 {
        for (k, array) in outputs.iter_mut().enumerate() {
            for (row, out) in array.chunks_mut(hours).zip(rows.iter_mut()) {
                out.arrays[k] = Some(row);
            }
        }
    }
    let context = Rows {
        input,
        contracts,
        hour: &hour,
        contract_split: &contract_split,
        pv_columns: simd::SplitColumns::new(hour.iter().map(|h| &h.pv)),
        contract_columns: (0..contracts)
            .map(|c| {
                simd::SplitColumns::new(
                    contract_split
                        .iter()
                        .skip(c)
                        .step_by(contracts.max(1))
                        .take(hours),
                )
            })
            .collect(),
        location: Factor::new(input.location_ug_per_wh),
        residual: Factor::new(input.residual_ug_per_wh),
        wide: simd::avx512(),
    };
    let mut sums = vec![[0_i64; SUMS]; n];
    let add = |mut a: Vec<i64>, b: Vec<i64>| {
        for (x, y) in a.iter_mut().zip(&b) {
            *x += y;
        }
        a
    };
    let matched_h: Vec<i64> = rows
        .par_chunks_mut(TENANT_CHUNK)
        .zip(sums.par_chunks_mut(TENANT_CHUNK))
        .enumerate()
        .fold(
            || (vec![0_i64; hours], Vec::new()),
            |(mut matched, mut green), (c, (chunk, sums))| {
                let i0 = c * TENANT_CHUNK;
                for h0 in (0..hours).step_by(HOUR_TILE) {
                    let h1 = (h0 + HOUR_TILE).min(hours);
                    for (t, (out, sums)) in chunk.iter_mut().zip(sums.iter_mut()).enumerate() {
                        let i = i0 + t;
                        let tile = Tile {
                            h0,
                            h1,
                            matched: &mut matched[h0..h1],
                            green: &mut green,
                        };
                        context.tenant(i, rank[i], &holdings[i], tile, out, sums);
                    }
                }
                (matched, green)
            },
        )
        .map(|(matched, _)| matched)
        .reduce(|| vec![0_i64; hours], add);
    for (h, m) in hour.iter_mut().zip(&matched_h) {
        h.excess = h.green - m;
    }
    let column = |k: usize| sums.iter().map(|t| t[k]).collect::<Vec<i64>>();
    let tenants = TenantTotals {
        load_wh: column(0),
        pv_wh: column(1),
        green_wh: column(2),
        matched_wh: column(3),
        annual_matched_wh: sums.iter().map(|t| (t[0] - t[1]).min(t[2])).collect(),
        location_g: column(4),
        market_g: column(5),
        loss_location_g: column(6),
        loss_market_g: column(7),
    };
    let per_hour = |f: fn(&Hour) -> i64| hour.iter().map(f).collect::<Vec<i64>>();
    let mut outputs = outputs.into_iter();
    let mut next = || outputs.next().unwrap_or_default();
    Ok(Scope2 {
        n,
        hours,
        location_g: next(),
        market_g: next(),
        pv_wh: next(),
        matched_wh: next(),
        loss_location_g: next(),
        loss_market_g: next(),
        export_wh: per_hour(|h| h.export),
        green_wh: per_hour(|h| h.green),
        excess_wh: per_hour(|h| h.excess),
        loss_wh: per_hour(|h| h.loss),
        loss_location_total_g: per_hour(|h| h.loss_location),
        loss_market_total_g: per_hour(|h| h.loss_market),
        landlord_location_g: per_hour(|h| h.landlord_location),
        landlord_market_g: per_hour(|h| h.landlord_market),
        tenants,
    })
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

/// Tenant-sum slots: load, pv, green, matched, location, market, loss shares.
const SUMS: usize = 8;

/// The columns `cols` of a tenant-major `n x hours` array, hour-major into `out`
/// (`out[j * n + i]` is tenant `i` in hour `cols[j]`). Tiled by 8 tenants, so that each
/// write fills a whole cache line and the reads are 8 sequential streams.
fn gather(values: &[i64], n: usize, hours: usize, cols: &[usize], out: &mut Vec<i64>) {
    const TILE: usize = 8;
    let width = cols.len();
    // Every slot is overwritten below: resize only (no clearing pass).
    out.resize(n * width, 0);
    let mut rows: [&[i64]; TILE] = [&[]; TILE];
    for i0 in (0..n).step_by(TILE) {
        let tile = TILE.min(n - i0);
        for (t, row) in rows.iter_mut().enumerate().take(tile) {
            *row = &values[(i0 + t) * hours..(i0 + t + 1) * hours];
        }
        for (j, &h) in cols.iter().enumerate() {
            let dst = &mut out[j * n + i0..j * n + i0 + tile];
            for (d, row) in dst.iter_mut().zip(&rows) {
                *d = row[h];
            }
        }
    }
}

/// What phase one reads besides the input.
struct Block<'a> {
    contracts: usize,
    holders: &'a [Holders],
    /// The park's load per hour.
    park_load: &'a [i64],
    pv_parts_sum: i64,
    gross_up: bool,
    /// Pro rata, no certificates, no gross-up (see [`scope2`]).
    lazy: bool,
}

impl Block<'_> {
    /// Phase one over the hours `h0..h1`: per hour, an [`Hour`] (its `excess` is set after
    /// phase two); per hour and contract, the contract's split over its holders.
    fn hours(
        &self,
        input: &Scope2Input<'_>,
        h0: usize,
        h1: usize,
        s: &mut Scratch,
    ) -> CoreResult<(Vec<Hour>, Vec<Split>)> {
        let (n, hours) = (input.n, input.hours);
        // The hours whose loads are needed, gathered hour-major: lazy, only those with PV
        // to share.
        s.cols.clear();
        if self.lazy {
            s.cols
                .extend((h0..h1).filter(|&h| input.pv_wh[h].min(self.park_load[h]) > 0));
        } else {
            s.cols.extend(h0..h1);
        }
        gather(input.load_wh, n, hours, &s.cols, &mut s.load);
        if let Some(z) = input.certificate_wh {
            gather(z, n, hours, &s.cols, &mut s.cert);
        }
        let (ug_loc, ug_res) = (input.location_ug_per_wh, input.residual_ug_per_wh);
        let mut out = Vec::with_capacity(h1 - h0);
        let mut splits = Vec::with_capacity((h1 - h0) * self.contracts);
        let mut col = 0;
        for h in h0..h1 {
            let pv_h = input.pv_wh[h];
            let park_load = self.park_load[h];
            let gathered = s.cols.get(col) == Some(&h);
            let j = col;
            col += usize::from(gathered);
            let load = if gathered {
                &s.load[j * n..(j + 1) * n]
            } else {
                &[]
            };
            let mut green_h = 0;
            if self.lazy {
                // The splits conserve, so the PV used and the green energy are known
                // without the shares.
                let used = pv_h.min(park_load);
                let pv = if gathered {
                    Split::new(used, load, park_load, &mut s.split)
                } else {
                    Split::NONE
                };
                for (c, holder) in self.holders.iter().enumerate().take(self.contracts) {
                    let g = input.contract_wh[c * hours + h];
                    splits.push(Split::new(g, &holder.parts, holder.sum, &mut s.split));
                    if holder.sum > 0 {
                        green_h += g;
                    }
                }
                let draw_h = park_load - used;
                let loss = Self::loss(input, h, draw_h)?;
                let (loss_loc, loss_mkt) = (grams(loss, ug_loc), grams(loss, ug_res));
                out.push(Hour {
                    pv,
                    served: n,
                    partial: 0,
                    export: pv_h - used,
                    green: green_h,
                    excess: 0,
                    loss,
                    loss_location: loss_loc,
                    loss_market: loss_mkt,
                    gross_location: Split::NONE,
                    gross_market: Split::NONE,
                    landlord_location: loss_loc,
                    landlord_market: loss_mkt,
                });
                continue;
            }
            // Pro rata and contract share overwrite every slot.
            if matches!(input.pv_sharing, PvSharing::Priority(_)) {
                s.pv.clear();
            }
            s.pv.resize(n, 0);
            let (mut pv_split, mut served, mut partial) = (Split::NONE, n, 0);
            match input.pv_sharing {
                PvSharing::ProRata => {
                    pv_split = Split::new(pv_h.min(park_load), load, park_load, &mut s.split);
                    pv_split.fill(&s.split, &mut s.pv);
                }
                PvSharing::ContractShare(parts) => {
                    pv_split = Split::new(pv_h, parts, self.pv_parts_sum, &mut s.split);
                    pv_split.fill(&s.split, &mut s.pv);
                    for (p, &l) in s.pv.iter_mut().zip(load) {
                        *p = (*p).min(l);
                    }
                }
                PvSharing::Priority(order) => {
                    let mut left = pv_h;
                    for (k, &i) in order.iter().enumerate() {
                        if load[i] > left {
                            s.pv[i] = left;
                            (served, partial) = (k, left);
                            break;
                        }
                        s.pv[i] = load[i];
                        left -= load[i];
                    }
                }
            }
            let pv_used: i64 = s.pv.iter().sum();
            // Green energy: certificates plus each contract's split (conserving).
            green_h += input
                .certificate_wh
                .map_or(0, |_| s.cert[j * n..(j + 1) * n].iter().sum());
            for (c, holder) in self.holders.iter().enumerate().take(self.contracts) {
                let g = input.contract_wh[c * hours + h];
                splits.push(Split::new(g, &holder.parts, holder.sum, &mut s.split));
                if holder.sum > 0 {
                    green_h += g;
                }
            }
            s.draw.clear();
            s.draw.extend(load.iter().zip(&s.pv).map(|(&l, &p)| l - p));
            let draw_h = park_load - pv_used;
            let loss = Self::loss(input, h, draw_h)?;
            let (loss_loc, loss_mkt) = (grams(loss, ug_loc), grams(loss, ug_res));
            let spread = self.gross_up && draw_h > 0;
            let (gross_location, gross_market) = if spread {
                (
                    Split::new(loss_loc, &s.draw, draw_h, &mut s.split),
                    Split::new(loss_mkt, &s.draw, draw_h, &mut s.split),
                )
            } else {
                (Split::NONE, Split::NONE)
            };
            out.push(Hour {
                pv: pv_split,
                served,
                partial,
                export: pv_h - pv_used,
                green: green_h,
                excess: 0,
                loss,
                loss_location: loss_loc,
                loss_market: loss_mkt,
                gross_location,
                gross_market,
                landlord_location: if spread { 0 } else { loss_loc },
                landlord_market: if spread { 0 } else { loss_mkt },
            });
        }
        Ok((out, splits))
    }

    /// The losses of hour `h`: the gate meter less the tenants' grid draw (0 unmetered).
    fn loss(input: &Scope2Input<'_>, h: usize, draw_h: i64) -> CoreResult<i64> {
        match input.gate_import_wh {
            None => Ok(0),
            Some(gate) if gate[h] >= draw_h => Ok(gate[h] - draw_h),
            Some(gate) => Err(CoreError::invalid(
                "gate_import_wh",
                Some(h),
                format!(
                    "the gate meter reads {} Wh, less than the tenants' grid draw {draw_h} Wh",
                    gate[h]
                ),
            )),
        }
    }
}

/// What phase two reads.
struct Rows<'a> {
    input: &'a Scope2Input<'a>,
    contracts: usize,
    hour: &'a [Hour],
    contract_split: &'a [Split],
    /// The PV split and each contract's split, column-wise for the vectorised loop.
    pv_columns: simd::SplitColumns,
    contract_columns: Vec<simd::SplitColumns>,
    location: Factor,
    residual: Factor,
    /// Whether the AVX-512 loops may run.
    wide: bool,
}

/// One tenant's rows of the outputs: location, market, then (if wanted) PV, matched and
/// the loss shares.
struct RowOut<'a, T> {
    arrays: [Option<&'a mut [T]>; 6],
}

impl<T> Default for RowOut<'_, T> {
    fn default() -> Self {
        Self {
            arrays: [None, None, None, None, None, None],
        }
    }
}

/// The hours `h0..h1` of a phase-two task: the matched energy per hour (summed over its
/// tenants) and a buffer for a tenant's green energy.
struct Tile<'a> {
    h0: usize,
    h1: usize,
    matched: &'a mut [i64],
    green: &'a mut Vec<i64>,
}

/// Tenants per phase-two task, and hours per tile.
const TENANT_CHUNK: usize = 16;
const HOUR_TILE: usize = 1024;

impl Rows<'_> {
    /// Tenant `i`'s outputs for the hours of `tile`, added to its `sums` and to the tile's
    /// matched energy; O((h1 - h0) * (1 + holdings)).
    fn tenant<T: Cell>(
        &self,
        i: usize,
        rank: usize,
        holdings: &[(usize, usize, i64)],
        tile: Tile<'_>,
        out: &mut RowOut<'_, T>,
        sums: &mut [i64; SUMS],
    ) {
        let input = self.input;
        let hours = input.hours;
        let Tile {
            h0,
            h1,
            matched: matched_h,
            green: green_row,
        } = tile;
        let load = &input.load_wh[i * hours + h0..i * hours + h1];
        let cert = input
            .certificate_wh
            .map(|z| &z[i * hours + h0..i * hours + h1]);
        let [location, market, pv_out, matched_out, loss_loc_out, loss_mkt_out] = &mut out.arrays;
        let (Some(location), Some(market)) = (location, market) else {
            return; // no hours
        };
        let plain = matches!(input.pv_sharing, PvSharing::ProRata)
            && cert.is_none()
            && pv_out.is_none()
            && matched_out.is_none()
            && loss_loc_out.is_none();
        if plain {
            // Pro rata, no certificates, nothing but the two methods: the common tenant,
            // vectorised, with a loop of its own for those that hold no contract.
            let (location, market) = (&mut location[h0..h1], &mut market[h0..h1]);
            let pv = self.pv_columns.slice(h0, h1);
            let at = i as i64;
            let row = if holdings.is_empty() {
                simd::plain_row::<false, T>(
                    self.wide,
                    at,
                    load,
                    &pv,
                    &[],
                    self.location,
                    self.residual,
                    location,
                    market,
                    matched_h,
                )
            } else {
                green_row.clear();
                green_row.resize(h1 - h0, 0);
                for &(c, k, part) in holdings {
                    let split = self.contract_columns[c].slice(h0, h1);
                    simd::add_shares(self.wide, &split, part, k as i64, green_row);
                }
                simd::plain_row::<true, T>(
                    self.wide,
                    at,
                    load,
                    &pv,
                    green_row,
                    self.location,
                    self.residual,
                    location,
                    market,
                    matched_h,
                )
            };
            for (s, r) in sums.iter_mut().zip(row) {
                *s += r;
            }
            return;
        }
        sums[0] += load.iter().sum::<i64>();
        for (j, (&l, hour)) in load.iter().zip(&self.hour[h0..h1]).enumerate() {
            let h = h0 + j;
            let pv = match input.pv_sharing {
                PvSharing::ProRata if hour.pv.total == 0 => 0,
                PvSharing::ProRata => hour.pv.share(l, i),
                PvSharing::ContractShare(parts) => hour.pv.share(parts[i], i).min(l),
                PvSharing::Priority(_) => {
                    if rank < hour.served {
                        l
                    } else if rank == hour.served {
                        hour.partial
                    } else {
                        0
                    }
                }
            };
            let mut green = cert.map_or(0, |z| z[j]);
            for &(c, k, part) in holdings {
                green += self.contract_split[h * self.contracts + c].share(part, k);
            }
            let d = l - pv;
            let m = d.min(green);
            let (loc, mkt) = (
                grams_with(d, self.location),
                grams_with(d - m, self.residual),
            );
            location[h] = T::of(loc);
            market[h] = T::of(mkt);
            if let Some(a) = pv_out {
                a[h] = T::of(pv);
            }
            if let Some(a) = matched_out {
                a[h] = T::of(m);
            }
            matched_h[j] += m;
            sums[1] += pv;
            sums[2] += green;
            sums[3] += m;
            sums[4] += loc;
            sums[5] += mkt;
            if let (Some(a), Some(b)) = (&mut *loss_loc_out, &mut *loss_mkt_out) {
                let (x, y) = (
                    hour.gross_location.share(d, i),
                    hour.gross_market.share(d, i),
                );
                a[h] = T::of(x);
                b[h] = T::of(y);
                sums[6] += x;
                sums[7] += y;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use crate::carbon::allocate_pro_rata;
    use proptest::prelude::*;

    fn base<'a>(n: usize, hours: usize, load: &'a [i64], pv: &'a [i64]) -> Scope2Input<'a> {
        Scope2Input {
            n,
            hours,
            load_wh: load,
            pv_wh: pv,
            pv_sharing: PvSharing::ProRata,
            contract_wh: &[],
            contract_share: &[],
            certificate_wh: None,
            gate_import_wh: None,
            loss_policy: LossPolicy::Landlord,
            location_ug_per_wh: 550_000,
            residual_ug_per_wh: 609_600,
            detail: true,
        }
    }

    #[test]
    fn worked_example_by_hand() {
        // Two tenants, one hour: loads 3000 and 1000 Wh, PV 2000 Wh split 1500 / 500.
        // Tenant 0 holds a certificate for 500 Wh: matched 500, residual 1000; tenant 1
        // residual 500. Location 1500 x 0.55 = 825 g, 500 x 0.55 = 275 g; market
        // 1000 x 0.6096 = 609.6 -> 610 g, 500 x 0.6096 = 304.8 -> 305 g. The gate reads
        // 2100 Wh: 100 Wh of losses, 55 g location and 60.96 -> 61 g market, grossed up
        // 3:1 on the draws 1500:500: 41.25 -> 41 + 13.75 -> 14 (larger remainder), and
        // 45.75 -> 46 (larger remainder) + 15.25 -> 15.
        let (load, pv, cert, gate) = ([3000, 1000], [2000], [500, 0], [2100]);
        let mut input = base(2, 1, &load, &pv);
        input.certificate_wh = Some(&cert);
        input.gate_import_wh = Some(&gate);
        input.loss_policy = LossPolicy::GrossUp;
        let r = scope2(&input).unwrap();
        assert_eq!(r.pv_wh, vec![1500, 500]);
        assert_eq!(r.matched_wh, vec![500, 0]);
        assert_eq!(r.location_g, vec![825, 275]);
        assert_eq!(r.market_g, vec![610, 305]);
        assert_eq!(r.loss_wh, vec![100]);
        assert_eq!(r.loss_location_g, vec![41, 14]);
        assert_eq!(r.loss_market_g, vec![46, 15]);
        assert_eq!(r.landlord_location_g, vec![0]);
        assert_eq!(r.export_wh, vec![0]);
        assert_eq!(r.excess_wh, vec![0]);
        assert_eq!(r.tenants.annual_matched_wh, vec![500, 0]);
        // The landlord keeps the losses instead.
        input.loss_policy = LossPolicy::Landlord;
        let r = scope2(&input).unwrap();
        assert!(r.loss_location_g.is_empty());
        assert_eq!(r.landlord_location_g, vec![55]);
        assert_eq!(r.landlord_market_g, vec![61]);
    }

    #[test]
    fn priority_and_contract_share_by_hand() {
        // PV 2500 Wh; loads 1000, 3000, 500. Priority 2, 0, 1: 500, 1000, then 1000.
        let (load, pv) = ([1000, 3000, 500], [2500]);
        let order = [2, 0, 1];
        let mut input = base(3, 1, &load, &pv);
        input.pv_sharing = PvSharing::Priority(&order);
        let r = scope2(&input).unwrap();
        assert_eq!(r.pv_wh, vec![1000, 1000, 500]);
        assert_eq!(r.export_wh, vec![0]);
        // Shares 1:1:2 entitle 625, 625, 1250; tenant 2 uses 500, 750 Wh is exported.
        let parts = [1, 1, 2];
        input.pv_sharing = PvSharing::ContractShare(&parts);
        let r = scope2(&input).unwrap();
        assert_eq!(r.pv_wh, vec![625, 625, 500]);
        assert_eq!(r.export_wh, vec![750]);
    }

    #[test]
    fn contracts_split_by_parts_without_carry() {
        // One contract, 1000 Wh in hour 0 and 0 in hour 1, held 1:2 by two tenants with
        // 200 and 1000 Wh of load each hour: 333 / 667 allotted (remainder to tenant 1),
        // tenant 0 matches 200 (133 excess), tenant 1 matches 667; hour 1 matches nothing,
        // although annual matching would count 200 + 667 of 1200 + 2000.
        let (load, pv) = ([200, 200, 1000, 1000], [0, 0]);
        let (gen, share) = ([1000, 0], [1, 2]);
        let mut input = base(2, 2, &load, &pv);
        input.contract_wh = &gen;
        input.contract_share = &share;
        let r = scope2(&input).unwrap();
        assert_eq!(r.matched_wh, vec![200, 0, 667, 0]);
        assert_eq!(r.excess_wh, vec![133, 0]);
        assert_eq!(r.tenants.green_wh, vec![333, 667]);
        assert_eq!(r.tenants.annual_matched_wh, vec![333, 667]);
    }

    #[test]
    fn errors_name_field_and_row() {
        let (load, pv) = ([1, 2, -3, 4], [0, 0]);
        let e = scope2(&base(2, 2, &load, &pv)).unwrap_err();
        assert_eq!(
            e,
            CoreError::invalid(
                "load_wh",
                Some(1),
                format!("hour 0: -3 must be in [0, {MAX_WH}]")
            )
        );
        let load = [1, 2, 3];
        let e = scope2(&base(2, 2, &load, &pv)).unwrap_err();
        assert!(e.to_string().contains("load_wh: has 3 values"), "{e}");
        let (load, gate) = ([10, 10, 10, 10], [20, 19]);
        let mut input = base(2, 2, &load, &pv);
        input.gate_import_wh = Some(&gate);
        let e = scope2(&input).unwrap_err();
        assert!(e.to_string().contains("gate_import_wh (row 1)"), "{e}");
        let order = [0, 0];
        input.gate_import_wh = None;
        input.pv_sharing = PvSharing::Priority(&order);
        let e = scope2(&input).unwrap_err();
        assert!(e.to_string().contains("pv_priority (row 1)"), "{e}");
        let (gen, share) = ([5, 5], [0, 0]);
        input.pv_sharing = PvSharing::ProRata;
        input.contract_wh = &gen;
        input.contract_share = &share;
        let e = scope2(&input).unwrap_err();
        assert!(e.to_string().contains("contract_share (row 0)"), "{e}");
        input.contract_share = &[1, 1];
        input.location_ug_per_wh = -1;
        let e = scope2(&input).unwrap_err();
        assert!(e.to_string().contains("location_factor"), "{e}");
    }

    #[derive(Debug, Clone)]
    struct Case {
        n: usize,
        hours: usize,
        load: Vec<i64>,
        pv: Vec<i64>,
        cert: Vec<i64>,
        gen: Vec<i64>,
        share: Vec<i64>,
        extra_loss: Vec<i64>,
        pv_parts: Vec<i64>,
        order: Vec<usize>,
        with_cert: bool,
    }

    fn case() -> impl Strategy<Value = Case> {
        (1usize..6, 1usize..80, 0usize..3).prop_flat_map(|(n, hours, c)| {
            let energy = prop_oneof![Just(0i64), 0i64..5_000, 0i64..5_000_000];
            (
                proptest::collection::vec(energy.clone(), n * hours),
                proptest::collection::vec(energy.clone(), hours),
                proptest::collection::vec(energy.clone(), n * hours),
                proptest::collection::vec(energy.clone(), c * hours),
                proptest::collection::vec(1i64..100, c * n),
                proptest::collection::vec(0i64..10_000, hours),
                proptest::collection::vec(0i64..5, n),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                any::<bool>(),
            )
                .prop_map(
                    move |(
                        load,
                        pv,
                        cert,
                        gen,
                        share,
                        extra_loss,
                        mut pv_parts,
                        order,
                        with_cert,
                    )| {
                        pv_parts[0] += 1;
                        Case {
                            n,
                            hours,
                            load,
                            pv,
                            cert,
                            gen,
                            share,
                            extra_loss,
                            pv_parts,
                            order,
                            with_cert,
                        }
                    },
                )
        })
    }

    fn run(c: &Case, sharing: PvSharing<'_>, gate: &[i64], policy: LossPolicy) -> Scope2 {
        let mut input = base(c.n, c.hours, &c.load, &c.pv);
        input.pv_sharing = sharing;
        input.certificate_wh = c.with_cert.then_some(c.cert.as_slice());
        input.contract_wh = &c.gen;
        input.contract_share = &c.share;
        input.gate_import_wh = Some(gate);
        input.loss_policy = policy;
        scope2(&input).unwrap()
    }

    fn gate_of(c: &Case, r: &Scope2) -> Vec<i64> {
        (0..c.hours)
            .map(|h| {
                (0..c.n)
                    .map(|i| c.load[i * c.hours + h] - r.pv_wh[i * c.hours + h])
                    .sum::<i64>()
                    + c.extra_loss[h]
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn balances_are_exact(c in case(), key in 0usize..3, gross in any::<bool>()) {
            let sharing = match key {
                0 => PvSharing::ProRata,
                1 => PvSharing::ContractShare(&c.pv_parts),
                _ => PvSharing::Priority(&c.order),
            };
            let policy = if gross { LossPolicy::GrossUp } else { LossPolicy::Landlord };
            let first = run(&c, sharing, &vec![MAX_WH; c.hours], policy);
            let gate = gate_of(&c, &first);
            let r = run(&c, sharing, &gate, policy);
            let (n, hours) = (c.n, c.hours);
            let at = |a: &[i64], i: usize, h: usize| a[i * hours + h];
            for h in 0..hours {
                let col = |a: &[i64]| (0..n).map(|i| at(a, i, h)).sum::<i64>();
                let park_load = col(&c.load);
                prop_assert_eq!(col(&r.pv_wh) + r.export_wh[h], c.pv[h]);
                prop_assert!(r.export_wh[h] >= 0);
                if key != 1 {
                    prop_assert_eq!(col(&r.pv_wh), c.pv[h].min(park_load));
                }
                let contracts: i64 = (0..c.gen.len() / hours).map(|k| c.gen[k * hours + h]).sum();
                let certs = if c.with_cert { col(&c.cert) } else { 0 };
                prop_assert_eq!(r.green_wh[h], certs + contracts);
                prop_assert_eq!(col(&r.matched_wh) + r.excess_wh[h], r.green_wh[h]);
                prop_assert_eq!(r.loss_wh[h], c.extra_loss[h]);
                let (tl, tm) = if gross {
                    (col(&r.loss_location_g), col(&r.loss_market_g))
                } else {
                    (0, 0)
                };
                prop_assert_eq!(tl + r.landlord_location_g[h], r.loss_location_total_g[h]);
                prop_assert_eq!(tm + r.landlord_market_g[h], r.loss_market_total_g[h]);
                for i in 0..n {
                    let (l, p, m) = (at(&c.load, i, h), at(&r.pv_wh, i, h), at(&r.matched_wh, i, h));
                    prop_assert!(0 <= p && p <= l);
                    prop_assert!(0 <= m && m <= l - p);
                    prop_assert_eq!(at(&r.location_g, i, h), grams(l - p, 550_000));
                    prop_assert_eq!(at(&r.market_g, i, h), grams(l - p - m, 609_600));
                }
            }
            for i in 0..n {
                let row = |a: &[i64]| a[i * hours..(i + 1) * hours].iter().sum::<i64>();
                prop_assert_eq!(r.tenants.load_wh[i], row(&c.load));
                prop_assert_eq!(r.tenants.matched_wh[i], row(&r.matched_wh));
                prop_assert_eq!(r.tenants.market_g[i], row(&r.market_g));
                // Hourly matching never beats annual matching.
                prop_assert!(r.tenants.matched_wh[i] <= r.tenants.annual_matched_wh[i]);
            }
        }

        #[test]
        fn pro_rata_pv_is_the_pro_rata_allocation(c in case()) {
            let r = run(&c, PvSharing::ProRata, &vec![MAX_WH; c.hours], LossPolicy::Landlord);
            let total: Vec<i64> = (0..c.hours)
                .map(|h| c.pv[h].min((0..c.n).map(|i| c.load[i * c.hours + h]).sum()))
                .collect();
            let use_: Vec<f64> = c.load.iter().map(|&l| l as f64).collect();
            let p = allocate_pro_rata(&total, &use_, c.n).unwrap();
            prop_assert_eq!(r.pv_wh, p.alloc_g);
        }

        #[test]
        fn more_green_never_raises_market_based(c in case(), who in 0usize..6, hour in 0usize..80, extra in 1i64..10_000) {
            let gate = vec![MAX_WH; c.hours];
            let mut c = c;
            c.with_cert = true;
            let before = run(&c, PvSharing::ProRata, &gate, LossPolicy::Landlord);
            let mut more = c.clone();
            let k = (who % c.n) * c.hours + hour % c.hours;
            more.cert[k] += extra;
            let after = run(&more, PvSharing::ProRata, &gate, LossPolicy::Landlord);
            for (a, b) in after.market_g.iter().zip(&before.market_g) {
                prop_assert!(a <= b);
            }
            prop_assert_eq!(after.location_g, before.location_g);
        }

        #[test]
        fn priority_matches_a_sequential_fill(c in case()) {
            let r = run(&c, PvSharing::Priority(&c.order), &vec![MAX_WH; c.hours], LossPolicy::Landlord);
            for h in 0..c.hours {
                let mut left = c.pv[h];
                for &i in &c.order {
                    let take = c.load[i * c.hours + h].min(left);
                    prop_assert_eq!(r.pv_wh[i * c.hours + h], take);
                    left -= take;
                }
            }
        }
    }

    #[test]
    fn zero_pv_and_contracts_leave_market_at_the_residual_factor() {
        let (load, pv) = ([1234, 0, 99_999, 7], [0, 0]);
        let r = scope2(&base(2, 2, &load, &pv)).unwrap();
        let expect: Vec<i64> = load.iter().map(|&l| grams(l, 609_600)).collect();
        assert_eq!(r.market_g, expect);
        assert_eq!(r.matched_wh, vec![0; 4]);
    }

    #[test]
    fn split_by_hand() {
        // 10 g over 1:1:1 -> 4, 3, 3 (ties to the lower position); 7 over 0:0:5 -> 0, 0, 7.
        assert_eq!(split_all(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(split_all(7, &[0, 0, 5]), vec![0, 0, 7]);
        assert_eq!(split_all(0, &[2, 3]), vec![0, 0]);
        // 5 over 1:2:1:2: floors 0, 1, 0, 1; remainders 5, 4, 5, 4 (of 6) -> 1, 2, 1, 1.
        assert_eq!(split_all(5, &[1, 2, 1, 2]), vec![1, 2, 1, 1]);
    }

    proptest! {
        #[test]
        fn split_is_the_pro_rata_allocation(
            weights in proptest::collection::vec(prop_oneof![Just(0i64), 0i64..1000, 0i64..(1 << 40)], 1..40),
            total in 0i64..=MAX_WH,
        ) {
            let mut weights = weights;
            weights[0] += 1;
            let use_: Vec<f64> = weights.iter().map(|&w| w as f64).collect();
            let n = weights.len();
            let expect = allocate_pro_rata(&[total], &use_, n).unwrap();
            // allocate_pro_rata quantises to min(52, 61 - bitlen(n)) bits: exact below that.
            prop_assert_eq!(split_all(total, &weights), expect.alloc_g);
        }
    }

    proptest! {
        #[test]
        fn quota_is_exact(t in 0i64..(1 << 44), s in 1i64..(1 << 61), frac in 0.0f64..=1.0) {
            let w = ((s as f64 * frac) as i64).clamp(0, s).min(MAX_WH);
            let split = Split { total: t, sum: s, ratio: t as f64 / s as f64, threshold: i64::MAX, cut: 0 };
            let (q, r) = split.quota(w);
            let num = i128::from(t) * i128::from(w);
            prop_assert_eq!(i128::from(q), num / i128::from(s));
            prop_assert_eq!(i128::from(r), num % i128::from(s));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(60))]
        #[test]
        fn split_with_many_ties_is_the_pro_rata_allocation(
            weights in proptest::collection::vec(prop_oneof![0i64..4, 0i64..1_000_000], 1..3000),
            total in prop_oneof![0i64..10_000, 0i64..=MAX_WH],
        ) {
            let mut weights = weights;
            weights[0] += 1;
            let use_: Vec<f64> = weights.iter().map(|&w| w as f64).collect();
            let expect = allocate_pro_rata(&[total], &use_, weights.len()).unwrap();
            prop_assert_eq!(split_all(total, &weights), expect.alloc_g);
        }
    }

    proptest! {
        #[test]
        fn grams_is_the_exact_rounding(e in prop_oneof![0i64..10_000, 0i64..=MAX_WH], ug in prop_oneof![0i64..1000, 0i64..=MAX_FACTOR_UG_PER_WH]) {
            let exact = (i128::from(e) * i128::from(ug) + 500_000) / 1_000_000;
            prop_assert_eq!(i128::from(grams(e, ug)), exact);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        /// Without detail (pro rata, no certificates, landlord losses) the engine takes its
        /// vectorised path; every figure equals the detailed run's, in either width.
        #[test]
        fn lean_and_compact_runs_equal_the_detailed_run(c in case(), with_gate in any::<bool>()) {
            let gate: Vec<i64> = (0..c.hours)
                .map(|h| (0..c.n).map(|i| c.load[i * c.hours + h]).sum::<i64>() + c.extra_loss[h])
                .collect();
            let mut input = base(c.n, c.hours, &c.load, &c.pv);
            input.contract_wh = &c.gen;
            input.contract_share = &c.share;
            input.gate_import_wh = with_gate.then_some(gate.as_slice());
            let detailed = scope2(&input).unwrap();
            input.detail = false;
            let lean = scope2(&input).unwrap();
            prop_assert_eq!(&lean.location_g, &detailed.location_g);
            prop_assert_eq!(&lean.market_g, &detailed.market_g);
            prop_assert!(lean.pv_wh.is_empty() && lean.matched_wh.is_empty());
            let hourly = |r: &Scope2| {
                (r.export_wh.clone(), r.green_wh.clone(), r.excess_wh.clone(), r.loss_wh.clone(),
                 r.landlord_location_g.clone(), r.landlord_market_g.clone(), r.tenants.clone())
            };
            prop_assert_eq!(hourly(&lean), hourly(&detailed));
            let Scope2Cells::Narrow(narrow) = scope2_compact(&input).unwrap() else {
                return Err(TestCaseError::fail("small loads give i32 results"));
            };
            let widen = |v: &[i32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>();
            prop_assert_eq!(widen(&narrow.location_g), lean.location_g);
            prop_assert_eq!(widen(&narrow.market_g), lean.market_g);
            prop_assert_eq!(narrow.tenants, lean.tenants);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The vectorised loops compute the same integers as the portable ones.
        #[test]
        fn simd_loops_equal_the_portable_ones(
            load in proptest::collection::vec(prop_oneof![0i64..5_000, 0i64..=MAX_WH], 1..300),
            green in proptest::collection::vec(prop_oneof![0i64..5_000, 0i64..=MAX_WH], 300),
            totals in proptest::collection::vec(prop_oneof![Just(0i64), 0i64..=MAX_WH], 300),
            i in 0i64..40,
        ) {
            let len = load.len();
            let mut scratch = SplitScratch::default();
            let splits: Vec<Split> = (0..len)
                .map(|j| {
                    let column: Vec<i64> = (0..40).map(|k| (load[j] + 7 * k) % 1000 + k).collect();
                    let sum = column.iter().sum();
                    Split::new(totals[j].min(sum), &column, sum, &mut scratch)
                })
                .collect();
            let columns = simd::SplitColumns::new(splits.iter());
            let pv = columns.slice(0, len);
            let run = |wide: bool| {
                let (mut loc, mut mkt64, mut matched) = (vec![0_i64; len], vec![0_i64; len], vec![0_i64; len]);
                let (mut loc32, mut mkt) = (vec![0_i32; len], vec![0_i32; len]);
                let (f, r) = (Factor::new(550_000), Factor::new(609_600));
                let a = simd::plain_row::<true, i64>(wide, i, &load, &pv, &green[..len], f, r, &mut loc, &mut mkt64, &mut matched);
                let b = simd::plain_row::<false, i32>(wide, i, &load, &pv, &[], f, r, &mut loc32, &mut mkt, &mut []);
                let mut acc = vec![0_i64; len];
                simd::add_shares(wide, &pv, 37, i, &mut acc);
                let uses: Vec<f64> = load.iter().map(|&l| l as f64 * 0.37).collect();
                let (sa, sb) = (vec![0.5; len], vec![0.25; len]);
                let mut alloc = vec![0_i64; len];
                simd::pro_rata_row(wide, i, &uses, &sa, &sb, &pv, &mut alloc);
                (a, b, loc, mkt64, loc32, mkt, matched, acc, alloc)
            };
            prop_assert_eq!(run(false), run(simd::avx512()));
            let mut q = vec![0; len];
            let mut rem = vec![0; len];
            let given = simd::quotas(&splits[0], &load, &mut q, &mut rem);
            for (k, &w) in load.iter().enumerate() {
                prop_assert_eq!((q[k], rem[k]), splits[0].quota(w));
            }
            prop_assert_eq!(given, q.iter().sum::<i64>());
        }
    }

    #[test]
    fn compact_results_widen_when_a_value_would_not_fit() {
        // 2^31 Wh in one tenant-hour does not fit in i32: the results stay i64.
        let big = 1_i64 << 31;
        let (load, pv) = ([big, 5], [0]);
        let Scope2Cells::Wide(r) = scope2_compact(&base(2, 1, &load, &pv)).unwrap() else {
            panic!("2^31 Wh must give i64 results");
        };
        assert_eq!(r.location_g, vec![grams(big, 550_000), grams(5, 550_000)]);
        // Just below, at factors whose grams still fit, they are i32.
        let (load, pv) = ([big - 1, 5], [0]);
        let mut input = base(2, 1, &load, &pv);
        input.location_ug_per_wh = 1_000_000;
        input.residual_ug_per_wh = 1_000_000;
        let Scope2Cells::Narrow(r) = scope2_compact(&input).unwrap() else {
            panic!("2^31 - 1 Wh at 1 g/Wh fits in i32");
        };
        assert_eq!(r.location_g, vec![i32::MAX, 5]);
        // Grossed-up losses count: a gate reading whose loss grams exceed i32 widens.
        let (load, pv, gate) = ([10, 5], [0], [1_i64 << 40]);
        let mut input = base(2, 1, &load, &pv);
        input.gate_import_wh = Some(&gate);
        assert!(matches!(
            scope2_compact(&input).unwrap(),
            Scope2Cells::Narrow(_)
        ));
        input.loss_policy = LossPolicy::GrossUp;
        let Scope2Cells::Wide(r) = scope2_compact(&input).unwrap() else {
            panic!("loss grams above 2^31 must give i64 results");
        };
        assert_eq!(
            r.loss_location_g.iter().sum::<i64>(),
            grams((1 << 40) - 15, 550_000)
        );
    }

    #[test]
    fn no_tenants_or_hours() {
        let r = scope2(&base(0, 3, &[], &[5, 0, 1])).unwrap();
        assert_eq!(r.export_wh, vec![5, 0, 1]);
        let r = scope2(&base(3, 0, &[], &[])).unwrap();
        assert_eq!(r.tenants.load_wh, vec![0, 0, 0]);
    }
}
