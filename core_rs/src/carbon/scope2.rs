//! Scope 2 electricity emissions of a park, per tenant and hour, exact in integer Wh and
//! integer grams.
//!
//! # The rules (hour `h`, tenant `i`; energy in Wh, emissions in g)
//! 1. **On-site PV** `PV_h` is shared by one of three keys ([`PvSharing`]):
//!    - *pro rata*: the park uses `min(PV_h, sum_i L_ih)`, split in proportion to load
//!      with the largest-remainder rule of [`split`] (so `PV_ih <= L_ih`);
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

use crate::carbon::pro_rata::MAX_TOTAL_G;
use crate::error::{CoreError, CoreResult};

/// The largest energy accepted in one tenant-hour, hour or contract-hour, Wh (2^42).
pub const MAX_WH: i64 = MAX_TOTAL_G;
/// The largest emission factor accepted, micrograms per Wh (2 kg CO2e/kWh).
pub const MAX_FACTOR_UG_PER_WH: i64 = 2_000_000;
/// The largest tenant count: weights (each at most 2^42) then sum below 2^61.
pub const MAX_TENANTS: usize = 1 << 18;
const UG_PER_G: u64 = 1_000_000;
const BLOCK_HOURS: usize = 32;

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

/// The result of [`scope2`]: `n x hours` arrays row-major, hourly vectors of `hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope2 {
    pub n: usize,
    pub hours: usize,
    pub pv_wh: Vec<i64>,
    pub matched_wh: Vec<i64>,
    pub location_g: Vec<i64>,
    pub market_g: Vec<i64>,
    /// Tenants' shares of the loss emissions (empty unless [`LossPolicy::GrossUp`]).
    pub loss_location_g: Vec<i64>,
    pub loss_market_g: Vec<i64>,
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
    ((energy_wh as u64 * ug_per_wh as u64 + UG_PER_G / 2) / UG_PER_G) as i64
}

/// Scratch for [`split`].
#[derive(Default)]
struct SplitScratch {
    remainder: Vec<i64>,
    select: Vec<i64>,
}

/// Largest-remainder split of `total` (`0 ..= 2^42`) by integer `weights` (each
/// `0 ..= 2^42`, `sum == weights.sum() > 0`, `sum < 2^61`) into `out`: each gets
/// `floor(total * w / sum)`, the grams left go one each to the largest remainders
/// `total * w mod sum`, ties to the lower index. The same rule (and for integer uses the
/// same result) as [`crate::carbon::allocate_pro_rata`].
fn split(total: i64, weights: &[i64], sum: i64, out: &mut [i64], scratch: &mut SplitScratch) {
    let n = weights.len();
    let remainder = &mut scratch.remainder;
    remainder.resize(n, 0);
    let ratio = total as f64 / sum as f64;
    let mut given = 0;
    for ((a, r), &w) in out.iter_mut().zip(remainder.iter_mut()).zip(weights) {
        // The estimate is within 2 of the true quotient (which is at most 2^42), so the
        // wrapped remainder is exact; correct it into [0, sum).
        let mut q = (w as f64 * ratio) as i64;
        let mut rem = total.wrapping_mul(w).wrapping_sub(q.wrapping_mul(sum));
        while rem < 0 {
            q -= 1;
            rem += sum;
        }
        while rem >= sum {
            q += 1;
            rem -= sum;
        }
        *a = q;
        *r = rem;
        given += q;
    }
    let left = (total - given) as usize;
    if left == 0 {
        return;
    }
    let select = &mut scratch.select;
    select.clear();
    select.extend_from_slice(remainder);
    let (_, &mut threshold, _) = select.select_nth_unstable(n - left);
    let mut ties = left - remainder.iter().filter(|&&r| r > threshold).count();
    for (a, &r) in out.iter_mut().zip(remainder.iter()) {
        if r > threshold {
            *a += 1;
        } else if r == threshold && ties > 0 {
            *a += 1;
            ties -= 1;
        }
    }
}

fn check_range(values: &[i64], field: &str, width: usize) -> CoreResult<()> {
    if width == 0 {
        return Ok(());
    }
    let bad = values
        .par_chunks(width)
        .enumerate()
        .find_map_first(|(row, chunk)| {
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

fn validate(input: &Scope2Input<'_>) -> CoreResult<(usize, Vec<Holders>)> {
    let (n, hours) = (input.n, input.hours);
    if n > MAX_TENANTS {
        return Err(CoreError::invalid(
            "load_wh",
            None,
            format!("{n} tenants exceed the limit of {MAX_TENANTS}"),
        ));
    }
    check_len(input.load_wh, n * hours, "load_wh", "tenants x hours")?;
    check_len(input.pv_wh, hours, "pv_wh", "hours")?;
    if let Some(z) = input.certificate_wh {
        check_len(z, n * hours, "certificate_wh", "tenants x hours")?;
        check_range(z, "certificate_wh", hours)?;
    }
    if let Some(g) = input.gate_import_wh {
        check_len(g, hours, "gate_import_wh", "hours")?;
        check_range(g, "gate_import_wh", 1)?;
    }
    check_range(input.load_wh, "load_wh", hours)?;
    check_range(input.pv_wh, "pv_wh", 1)?;
    let contracts = if hours == 0 {
        if n == 0 {
            0
        } else {
            input.contract_share.len() / n
        }
    } else {
        input.contract_wh.len() / hours
    };
    check_len(input.contract_wh, contracts * hours, "contract_wh", "contracts x hours")?;
    check_len(input.contract_share, contracts * n, "contract_share", "contracts x tenants")?;
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
    Ok((contracts, holders))
}

/// Hour-major buffers of one block, reused by a worker.
#[derive(Default)]
struct Block {
    load: Vec<i64>,
    cert: Vec<i64>,
    pv: Vec<i64>,
    matched: Vec<i64>,
    location: Vec<i64>,
    market: Vec<i64>,
    loss_location: Vec<i64>,
    loss_market: Vec<i64>,
    green: Vec<i64>,
    entitled: Vec<i64>,
    draw: Vec<i64>,
    green_total: Vec<i64>,
    split: SplitScratch,
}

/// Hourly results of one block.
#[derive(Default)]
struct Hourly {
    export: Vec<i64>,
    green: Vec<i64>,
    excess: Vec<i64>,
    loss: Vec<i64>,
    loss_location: Vec<i64>,
    loss_market: Vec<i64>,
    landlord_location: Vec<i64>,
    landlord_market: Vec<i64>,
}

/// Output row pieces of one block: `rows[k][i]` is tenant `i`'s slice of array `k`.
type Pieces<'a> = Vec<Vec<&'a mut [i64]>>;

/// Tenant-sum slots per block: load, pv, green, matched, location, market, loss shares.
const SUMS: usize = 8;

/// Scope 2 for every tenant and hour with the rules of the module documentation.
///
/// Errors name the field and row: `load_wh` / `certificate_wh` (tenant), `pv_wh` /
/// `gate_import_wh` (hour), `contract_wh` / `contract_share` (contract) for values out of
/// `[0, 2^42]` or lengths that do not match; `pv_share` / `pv_priority` for an invalid key;
/// `gate_import_wh` (hour) when the gate meter reads less than the tenants' grid draw.
pub fn scope2(input: &Scope2Input<'_>) -> CoreResult<Scope2> {
    let (contracts, holders) = validate(input)?;
    let (n, hours) = (input.n, input.hours);
    let gross_up = input.loss_policy == LossPolicy::GrossUp && input.gate_import_wh.is_some();
    let arrays = if gross_up { 6 } else { 4 };
    let mut outputs: Vec<Vec<i64>> = (0..arrays).map(|_| vec![0_i64; n * hours]).collect();
    let blocks = hours.div_ceil(BLOCK_HOURS);
    let mut pieces: Vec<Pieces<'_>> = (0..blocks)
        .map(|_| (0..arrays).map(|_| Vec::with_capacity(n)).collect())
        .collect();
    if hours > 0 {
        for (k, array) in outputs.iter_mut().enumerate() {
            for row in array.chunks_mut(hours) {
                for (b, piece) in row.chunks_mut(BLOCK_HOURS).enumerate() {
                    pieces[b][k].push(piece);
                }
            }
        }
    }
    let results: Vec<CoreResult<(Hourly, Vec<i64>)>> = pieces
        .into_par_iter()
        .enumerate()
        .map_init(Block::default, |block, (b, mut rows)| {
            let h0 = b * BLOCK_HOURS;
            let h1 = (h0 + BLOCK_HOURS).min(hours);
            run_block(input, contracts, &holders, h0, h1, block, &mut rows)
        })
        .collect();
    let mut hourly = Hourly::default();
    let mut block_sums = Vec::with_capacity(blocks);
    for r in results {
        let (h, sums) = r?;
        hourly.export.extend(h.export);
        hourly.green.extend(h.green);
        hourly.excess.extend(h.excess);
        hourly.loss.extend(h.loss);
        hourly.loss_location.extend(h.loss_location);
        hourly.loss_market.extend(h.loss_market);
        hourly.landlord_location.extend(h.landlord_location);
        hourly.landlord_market.extend(h.landlord_market);
        block_sums.push(sums);
    }
    let totals: Vec<[i64; SUMS]> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut t = [0_i64; SUMS];
            for sums in &block_sums {
                for (k, slot) in t.iter_mut().enumerate() {
                    *slot += sums[k * n + i];
                }
            }
            t
        })
        .collect();
    let column = |k: usize| totals.iter().map(|t| t[k]).collect::<Vec<i64>>();
    let annual_matched_wh = totals
        .iter()
        .map(|t| (t[0] - t[1]).min(t[2]))
        .collect::<Vec<i64>>();
    let tenants = TenantTotals {
        load_wh: column(0),
        pv_wh: column(1),
        green_wh: column(2),
        matched_wh: column(3),
        annual_matched_wh,
        location_g: column(4),
        market_g: column(5),
        loss_location_g: column(6),
        loss_market_g: column(7),
    };
    let mut outputs = outputs.into_iter();
    let mut next = || outputs.next().unwrap_or_default();
    Ok(Scope2 {
        n,
        hours,
        pv_wh: next(),
        matched_wh: next(),
        location_g: next(),
        market_g: next(),
        loss_location_g: next(),
        loss_market_g: next(),
        export_wh: hourly.export,
        green_wh: hourly.green,
        excess_wh: hourly.excess,
        loss_wh: hourly.loss,
        loss_location_total_g: hourly.loss_location,
        loss_market_total_g: hourly.loss_market,
        landlord_location_g: hourly.landlord_location,
        landlord_market_g: hourly.landlord_market,
        tenants,
    })
}

#[allow(clippy::too_many_arguments)]
fn run_block(
    input: &Scope2Input<'_>,
    contracts: usize,
    holders: &[Holders],
    h0: usize,
    h1: usize,
    block: &mut Block,
    rows: &mut Pieces<'_>,
) -> CoreResult<(Hourly, Vec<i64>)> {
    let (n, hours) = (input.n, input.hours);
    let width = h1 - h0;
    let cells = n * width;
    let gross_up = rows.len() == 6;
    for v in [
        &mut block.load,
        &mut block.cert,
        &mut block.pv,
        &mut block.matched,
        &mut block.location,
        &mut block.market,
        &mut block.loss_location,
        &mut block.loss_market,
    ] {
        v.clear();
        v.resize(cells, 0);
    }
    for v in [
        &mut block.green,
        &mut block.entitled,
        &mut block.draw,
        &mut block.green_total,
    ] {
        v.clear();
        v.resize(n, 0);
    }
    // Gather the block hour-major: [j * n + i].
    for i in 0..n {
        let row = &input.load_wh[i * hours + h0..i * hours + h1];
        for (j, &l) in row.iter().enumerate() {
            block.load[j * n + i] = l;
        }
        if let Some(z) = input.certificate_wh {
            for (j, &g) in z[i * hours + h0..i * hours + h1].iter().enumerate() {
                block.cert[j * n + i] = g;
            }
        }
    }
    let mut hourly = Hourly::default();
    let (ug_loc, ug_res) = (input.location_ug_per_wh, input.residual_ug_per_wh);
    for j in 0..width {
        let h = h0 + j;
        let range = j * n..(j + 1) * n;
        let load = &block.load[range.clone()];
        let pv = &mut block.pv[range.clone()];
        let pv_h = input.pv_wh[h];
        let park_load: i64 = load.iter().sum();
        match input.pv_sharing {
            PvSharing::ProRata => {
                let used = pv_h.min(park_load);
                if used > 0 {
                    split(used, load, park_load, pv, &mut block.split);
                }
            }
            PvSharing::ContractShare(parts) => {
                let sum: i64 = parts.iter().sum();
                if pv_h > 0 && sum > 0 {
                    split(pv_h, parts, sum, &mut block.entitled, &mut block.split);
                    for ((p, &e), &l) in pv.iter_mut().zip(&block.entitled).zip(load) {
                        *p = e.min(l);
                    }
                }
            }
            PvSharing::Priority(order) => {
                let mut left = pv_h;
                for &i in order {
                    if left == 0 {
                        break;
                    }
                    let take = load[i].min(left);
                    pv[i] = take;
                    left -= take;
                }
            }
        }
        let pv_used: i64 = pv.iter().sum();
        hourly.export.push(pv_h - pv_used);
        // Green energy per tenant this hour.
        let green = &mut block.green;
        green.copy_from_slice(&block.cert[range.clone()]);
        for (c, holder) in holders.iter().enumerate().take(contracts) {
            let g = input.contract_wh[c * hours + h];
            if g == 0 {
                continue;
            }
            let shares = &mut block.entitled[..holder.tenants.len()];
            split(g, &holder.parts, holder.sum, shares, &mut block.split);
            for (&i, &s) in holder.tenants.iter().zip(shares.iter()) {
                green[i] += s;
            }
        }
        let matched = &mut block.matched[range.clone()];
        let location = &mut block.location[range.clone()];
        let market = &mut block.market[range.clone()];
        let draw = &mut block.draw;
        let (mut green_h, mut matched_h, mut draw_h) = (0_i64, 0_i64, 0_i64);
        for i in 0..n {
            let d = load[i] - pv[i];
            let m = d.min(green[i]);
            matched[i] = m;
            location[i] = grams(d, ug_loc);
            market[i] = grams(d - m, ug_res);
            draw[i] = d;
            block.green_total[i] += green[i];
            green_h += green[i];
            matched_h += m;
            draw_h += d;
        }
        hourly.green.push(green_h);
        hourly.excess.push(green_h - matched_h);
        let loss = match input.gate_import_wh {
            None => 0,
            Some(gate) => {
                let loss = gate[h] - draw_h;
                if loss < 0 {
                    return Err(CoreError::invalid(
                        "gate_import_wh",
                        Some(h),
                        format!(
                            "the gate meter reads {} Wh, less than the tenants' grid draw \
                             {draw_h} Wh",
                            gate[h]
                        ),
                    ));
                }
                loss
            }
        };
        let (loss_loc, loss_mkt) = (grams(loss, ug_loc), grams(loss, ug_res));
        hourly.loss.push(loss);
        hourly.loss_location.push(loss_loc);
        hourly.loss_market.push(loss_mkt);
        if gross_up && draw_h > 0 {
            let out = &mut block.loss_location[range.clone()];
            if loss_loc > 0 {
                split(loss_loc, draw, draw_h, out, &mut block.split);
            }
            let out = &mut block.loss_market[range.clone()];
            if loss_mkt > 0 {
                split(loss_mkt, draw, draw_h, out, &mut block.split);
            }
            hourly.landlord_location.push(0);
            hourly.landlord_market.push(0);
        } else {
            hourly.landlord_location.push(loss_loc);
            hourly.landlord_market.push(loss_mkt);
        }
    }
    // Scatter back tenant-major and sum per tenant.
    let mut sums = vec![0_i64; SUMS * n];
    let sources: [&[i64]; 6] = [
        &block.pv,
        &block.matched,
        &block.location,
        &block.market,
        &block.loss_location,
        &block.loss_market,
    ];
    for (k, source) in sources.iter().enumerate().take(rows.len()) {
        let slot = [1, 3, 4, 5, 6, 7][k];
        for (i, piece) in rows[k].iter_mut().enumerate() {
            let mut s = 0;
            for (j, out) in piece.iter_mut().enumerate() {
                let v = source[j * n + i];
                *out = v;
                s += v;
            }
            sums[slot * n + i] = s;
        }
    }
    for i in 0..n {
        sums[i] = input.load_wh[i * hours + h0..i * hours + h1].iter().sum();
    }
    sums[2 * n..3 * n].copy_from_slice(&block.green_total);
    Ok((hourly, sums))
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
            CoreError::invalid("load_wh", Some(1), format!("hour 0: -3 must be in [0, {MAX_WH}]"))
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
            )
                .prop_map(
                    move |(load, pv, cert, gen, share, extra_loss, mut pv_parts, order)| {
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
                        }
                    },
                )
        })
    }

    fn run(c: &Case, sharing: PvSharing<'_>, gate: &[i64], policy: LossPolicy) -> Scope2 {
        let mut input = base(c.n, c.hours, &c.load, &c.pv);
        input.pv_sharing = sharing;
        input.certificate_wh = Some(&c.cert);
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
                prop_assert_eq!(r.green_wh[h], col(&c.cert) + contracts);
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
    fn no_tenants_or_hours() {
        let r = scope2(&base(0, 3, &[], &[5, 0, 1])).unwrap();
        assert_eq!(r.export_wh, vec![5, 0, 1]);
        let r = scope2(&base(3, 0, &[], &[])).unwrap();
        assert_eq!(r.tenants.load_wh, vec![0, 0, 0]);
    }
}
