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
pub use crate::carbon::split::{grams, Cell};
use crate::carbon::split::{
    grams_with, simd, zeroed_populated, Factor, Split, SplitScratch, MAX_TOTAL_G,
};
use crate::error::{CoreError, CoreResult};

/// The largest energy accepted in one tenant-hour, hour or contract-hour, Wh (2^42).
pub const MAX_WH: i64 = MAX_TOTAL_G;
/// The largest emission factor accepted, micrograms per Wh (2 kg CO2e/kWh).
pub const MAX_FACTOR_UG_PER_WH: i64 = 2_000_000;
/// The largest tenant count: weights (each at most 2^42) then sum below 2^61.
pub const MAX_TENANTS: usize = 1 << 18;

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

mod phases;
mod validate;

use phases::*;
use validate::*;

#[cfg(test)]
mod tests;
