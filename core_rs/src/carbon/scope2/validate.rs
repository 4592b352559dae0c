//! Checks of a [`Scope2Input`](super::Scope2Input): shapes, ranges, holders and parts,
//! each failure naming the field and the row.

use super::*;

pub(super) fn check_range(values: &[i64], field: &str, width: usize) -> CoreResult<()> {
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

pub(super) fn check_len(
    values: &[i64],
    expected: usize,
    field: &str,
    shape: &str,
) -> CoreResult<()> {
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
pub(super) struct Holders {
    pub(super) tenants: Vec<usize>,
    pub(super) parts: Vec<i64>,
    pub(super) sum: i64,
}

/// The hourly sums and the largest value of the tenant-major `n x hours` array `values`,
/// whose values are checked to lie in `[0, MAX_WH]` in the same pass (one read of the
/// largest input); the error names the tenant and the hour. Parallel over blocks of
/// tenants.
pub(super) fn column_sums(
    values: &[i64],
    hours: usize,
    field: &str,
) -> CoreResult<(Vec<i64>, i64)> {
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
pub(super) struct Validated {
    pub(super) contracts: usize,
    /// Each contract's holders.
    pub(super) holders: Vec<Holders>,
    /// The park's load per hour.
    pub(super) park_load: Vec<i64>,
    /// The largest tenant-hour load.
    pub(super) max_load: i64,
}

pub(super) fn validate(input: &Scope2Input<'_>) -> CoreResult<Validated> {
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
