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
mod tests;
