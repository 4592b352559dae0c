//! Candidate generation for space-to-enterprise matching.
//!
//! For each enterprise, the spaces passing every hard constraint, scored by
//! [`score`] and cut to the best `k`. Parks are found in the latitude window of the
//! radius, then by distance; spaces inherit their park's coordinates. Enterprises run
//! in parallel on the engine pool.
//!
//! The hard constraints, in the fixed order used for reason codes:
//! distance to the park <= `radius_km`, area in `[area_min, area_max]`, floor load,
//! ceiling height, power, rent <= max rent, hazardous process needs a permit, the park
//! admits the enterprise's industry division, the space kind is acceptable, the space is
//! available by `now`.

pub mod generate;
mod offered;
mod scan;
pub mod score;
#[cfg(test)]
mod tests;

pub use generate::{generate, score_pairs, Candidates, PairScores};
pub use score::{Weights, COMPONENTS, SCORE_SCALE};

use crate::budget::Need;
use crate::error::{CoreError, CoreResult};

/// Number of GB/T 4754-2017 divisions (codes "01" to "97" map to indices 0 to 96).
pub const N_DIVISIONS: usize = 97;

/// Why an enterprise has no candidate: the constraint that eliminated the last ones.
///
/// With spaces in radius, the code is the first constraint, in the fixed order, after
/// which no candidate is left (the largest "first failed constraint" over the spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reason {
    HasCandidates = 0,
    NoParkInRadius = 1,
    NoSpaceInRadius = 2,
    Area = 3,
    FloorLoad = 4,
    CeilingHeight = 5,
    Power = 6,
    Rent = 7,
    HazardousPermit = 8,
    IndustryNotPermitted = 9,
    SpaceKind = 10,
    NotAvailableYet = 11,
    /// The enterprise was left out of this generation (e.g. it already holds a tenancy).
    Excluded = 12,
}

/// Reason names, indexed by code.
pub const REASON_NAMES: [&str; 13] = [
    "HAS_CANDIDATES",
    "NO_PARK_IN_RADIUS",
    "NO_SPACE_IN_RADIUS",
    "AREA",
    "FLOOR_LOAD",
    "CEILING_HEIGHT",
    "POWER",
    "RENT",
    "HAZARDOUS_PERMIT",
    "INDUSTRY_NOT_PERMITTED",
    "SPACE_KIND",
    "NOT_AVAILABLE_YET",
    "EXCLUDED",
];

/// A 128-bit set of divisions (bit `d` = division index `d`).
pub type DivisionMask = [u64; 2];

#[inline]
pub fn mask_has(mask: &DivisionMask, d: u8) -> bool {
    let d = d as usize;
    d < 128 && (mask[d / 64] >> (d % 64)) & 1 == 1
}

/// Parks: coordinates, admitted divisions, carbon headroom and current tenant mix.
#[derive(Debug, Clone, Default)]
pub struct Parks {
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    /// Divisions the park admits (all bits set when the park admits every division).
    pub industry_mask: Vec<DivisionMask>,
    /// Carbon budget left after current tenants, t CO2e per year (may be +inf).
    pub remaining_co2e_t: Vec<f64>,
    /// Tenant mix as CSR: for park p, `tenant_div[indptr[p]..indptr[p+1]]` with shares
    /// (each park's shares sum to 1, or the park has no entries).
    pub tenant_indptr: Vec<usize>,
    pub tenant_div: Vec<u8>,
    pub tenant_share: Vec<f64>,
}

/// Spaces: the park index and the attributes the hard constraints read.
#[derive(Debug, Clone, Default)]
pub struct Spaces {
    pub park: Vec<u32>,
    pub area_m2: Vec<f64>,
    pub floor_load_kn_m2: Vec<f64>,
    pub ceiling_height_m: Vec<f64>,
    pub power_kva: Vec<f64>,
    pub rent_cny_per_m2_month: Vec<f64>,
    pub hazardous_permit: Vec<bool>,
    /// Days since 1970-01-01.
    pub available_from_day: Vec<i32>,
    /// Index into `zone_opt.schemas.SPACE_KINDS` (< 8).
    pub kind: Vec<u8>,
}

/// Enterprises: requirements, location, and the inputs of the soft score.
#[derive(Debug, Clone, Default)]
pub struct Enterprises {
    pub area_min_m2: Vec<f64>,
    pub area_max_m2: Vec<f64>,
    pub min_floor_load_kn_m2: Vec<f64>,
    pub min_ceiling_height_m: Vec<f64>,
    pub power_need_kva: Vec<f64>,
    pub max_rent_cny_per_m2_month: Vec<f64>,
    pub lat: Vec<f64>,
    pub lon: Vec<f64>,
    pub radius_km: Vec<f64>,
    pub hazardous_process: Vec<bool>,
    /// Division index (0..97) of the enterprise's industry.
    pub division: Vec<u8>,
    /// Bit set of acceptable space kinds (all bits when any kind is acceptable).
    pub kinds_mask: Vec<u8>,
    /// Supplier and customer divisions.
    pub chain_mask: Vec<DivisionMask>,
    pub annual_co2e_t: Vec<f64>,
}

/// Everything candidate generation reads, validated, with its indexes built.
#[derive(Debug, Clone)]
pub struct CandidateIndex {
    pub parks: Parks,
    pub spaces: Spaces,
    pub enterprises: Enterprises,
    /// Row-major `N_DIVISIONS x N_DIVISIONS` affinity in [0, 1] (empty: all zero).
    pub affinity: Vec<f64>,
    /// Spaces grouped by park, each group sorted by area (then index):
    /// `space_of[space_indptr[p]..space_indptr[p+1]]`.
    pub(crate) space_indptr: Vec<usize>,
    pub(crate) space_of: Vec<u32>,
    /// `P x N_DIVISIONS`: the share of park p's tenants in each division.
    pub(crate) park_share: Vec<f64>,
    /// `P x N_DIVISIONS`: `sum_j share_p(j) * affinity[d, j]` for each division d.
    pub(crate) park_div_affinity: Vec<f64>,
}

fn check_len(field: &str, len: usize, n: usize, of: &str) -> CoreResult<()> {
    if len == n {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            None,
            format!("has {len} entries, {of} has {n}"),
        ))
    }
}

fn check_finite(field: &str, v: &[f64], allow_inf: bool) -> CoreResult<()> {
    match v
        .iter()
        .position(|x| x.is_nan() || (!allow_inf && x.is_infinite()))
    {
        Some(i) => Err(CoreError::invalid(field, Some(i), "not a finite number")),
        None => Ok(()),
    }
}

impl CandidateIndex {
    /// Validate the arrays and build the per-park space lists and division tables.
    pub fn new(
        parks: Parks,
        spaces: Spaces,
        enterprises: Enterprises,
        affinity: Vec<f64>,
    ) -> CoreResult<Self> {
        let np = parks.lat.len();
        check_len("parks.lon", parks.lon.len(), np, "parks.lat")?;
        check_len(
            "parks.industry_mask",
            parks.industry_mask.len(),
            np,
            "parks.lat",
        )?;
        check_len(
            "parks.remaining_co2e_t",
            parks.remaining_co2e_t.len(),
            np,
            "parks.lat",
        )?;
        check_len(
            "parks.tenant_indptr",
            parks.tenant_indptr.len(),
            np + 1,
            "parks.lat + 1",
        )?;
        check_len(
            "parks.tenant_share",
            parks.tenant_share.len(),
            parks.tenant_div.len(),
            "parks.tenant_div",
        )?;
        check_finite("parks.lat", &parks.lat, false)?;
        check_finite("parks.lon", &parks.lon, false)?;
        check_finite("parks.remaining_co2e_t", &parks.remaining_co2e_t, true)?;
        check_finite("parks.tenant_share", &parks.tenant_share, false)?;
        if let Some(i) = parks.lat.iter().position(|x| x.abs() > 90.0) {
            return Err(CoreError::invalid(
                "parks.lat",
                Some(i),
                "outside [-90, 90]",
            ));
        }
        if parks.tenant_indptr.first().copied().unwrap_or(0) != 0
            || parks.tenant_indptr.windows(2).any(|w| w[1] < w[0])
            || parks.tenant_indptr.last().copied().unwrap_or(0) != parks.tenant_div.len()
        {
            return Err(CoreError::invalid(
                "parks.tenant_indptr",
                None,
                "not a valid CSR index",
            ));
        }
        if let Some(i) = parks
            .tenant_div
            .iter()
            .position(|&d| d as usize >= N_DIVISIONS)
        {
            return Err(CoreError::invalid(
                "parks.tenant_div",
                Some(i),
                "division index >= 97",
            ));
        }

        let ns = spaces.park.len();
        for (name, len) in [
            ("spaces.area_m2", spaces.area_m2.len()),
            ("spaces.floor_load_kn_m2", spaces.floor_load_kn_m2.len()),
            ("spaces.ceiling_height_m", spaces.ceiling_height_m.len()),
            ("spaces.power_kva", spaces.power_kva.len()),
            (
                "spaces.rent_cny_per_m2_month",
                spaces.rent_cny_per_m2_month.len(),
            ),
            ("spaces.hazardous_permit", spaces.hazardous_permit.len()),
            ("spaces.available_from_day", spaces.available_from_day.len()),
            ("spaces.kind", spaces.kind.len()),
        ] {
            check_len(name, len, ns, "spaces.park")?;
        }
        if let Some(i) = spaces.park.iter().position(|&p| p as usize >= np) {
            return Err(CoreError::invalid(
                "spaces.park_id",
                Some(i),
                "unknown park",
            ));
        }
        if let Some(i) = spaces.kind.iter().position(|&k| k >= 8) {
            return Err(CoreError::invalid(
                "spaces.kind",
                Some(i),
                "kind index >= 8",
            ));
        }
        for (name, v) in [
            ("spaces.area_m2", &spaces.area_m2),
            ("spaces.floor_load_kn_m2", &spaces.floor_load_kn_m2),
            ("spaces.ceiling_height_m", &spaces.ceiling_height_m),
            ("spaces.power_kva", &spaces.power_kva),
            (
                "spaces.rent_cny_per_m2_month",
                &spaces.rent_cny_per_m2_month,
            ),
        ] {
            check_finite(name, v, false)?;
        }

        let ne = enterprises.lat.len();
        for (name, len) in [
            ("enterprises.area_min_m2", enterprises.area_min_m2.len()),
            ("enterprises.area_max_m2", enterprises.area_max_m2.len()),
            (
                "enterprises.min_floor_load_kn_m2",
                enterprises.min_floor_load_kn_m2.len(),
            ),
            (
                "enterprises.min_ceiling_height_m",
                enterprises.min_ceiling_height_m.len(),
            ),
            (
                "enterprises.power_need_kva",
                enterprises.power_need_kva.len(),
            ),
            (
                "enterprises.max_rent_cny_per_m2_month",
                enterprises.max_rent_cny_per_m2_month.len(),
            ),
            ("enterprises.preferred_lon", enterprises.lon.len()),
            ("enterprises.radius_km", enterprises.radius_km.len()),
            (
                "enterprises.hazardous_process",
                enterprises.hazardous_process.len(),
            ),
            ("enterprises.industry_code", enterprises.division.len()),
            ("enterprises.space_kinds", enterprises.kinds_mask.len()),
            ("enterprises.chain_mask", enterprises.chain_mask.len()),
            ("enterprises.annual_co2e_t", enterprises.annual_co2e_t.len()),
        ] {
            check_len(name, len, ne, "enterprises.preferred_lat")?;
        }
        for (name, v) in [
            ("enterprises.area_min_m2", &enterprises.area_min_m2),
            ("enterprises.area_max_m2", &enterprises.area_max_m2),
            (
                "enterprises.min_floor_load_kn_m2",
                &enterprises.min_floor_load_kn_m2,
            ),
            (
                "enterprises.min_ceiling_height_m",
                &enterprises.min_ceiling_height_m,
            ),
            ("enterprises.power_need_kva", &enterprises.power_need_kva),
            (
                "enterprises.max_rent_cny_per_m2_month",
                &enterprises.max_rent_cny_per_m2_month,
            ),
            ("enterprises.preferred_lat", &enterprises.lat),
            ("enterprises.preferred_lon", &enterprises.lon),
            ("enterprises.annual_co2e_t", &enterprises.annual_co2e_t),
        ] {
            check_finite(name, v, false)?;
        }
        check_finite("enterprises.radius_km", &enterprises.radius_km, true)?;
        if let Some(i) = enterprises.radius_km.iter().position(|&r| r <= 0.0) {
            return Err(CoreError::invalid(
                "enterprises.radius_km",
                Some(i),
                "must be positive",
            ));
        }
        if let Some(i) = enterprises
            .division
            .iter()
            .position(|&d| d as usize >= N_DIVISIONS)
        {
            return Err(CoreError::invalid(
                "enterprises.industry_code",
                Some(i),
                "division index >= 97",
            ));
        }
        if let Some(i) = (0..ne).find(|&i| enterprises.area_min_m2[i] > enterprises.area_max_m2[i])
        {
            return Err(CoreError::invalid(
                "enterprises.area_min_m2",
                Some(i),
                "greater than area_max_m2",
            ));
        }
        if !affinity.is_empty() {
            check_len(
                "affinity",
                affinity.len(),
                N_DIVISIONS * N_DIVISIONS,
                "97 x 97",
            )?;
            if let Some(i) = affinity.iter().position(|&a| !(0.0..=1.0).contains(&a)) {
                return Err(CoreError::invalid("affinity", Some(i), "outside [0, 1]"));
            }
        }

        // Per park two rows of division shares and the space offsets; per space its slot.
        Need::new("parks")
            .items(np, 2 * N_DIVISIONS * 8 + 2 * 8 + 4)
            .items(ns, 4)
            .check()?;
        let mut space_indptr = vec![0_usize; np + 1];
        for &p in &spaces.park {
            space_indptr[p as usize + 1] += 1;
        }
        for p in 0..np {
            space_indptr[p + 1] += space_indptr[p];
        }
        let mut fill = space_indptr.clone();
        let mut space_of = vec![0_u32; ns];
        for (s, &p) in spaces.park.iter().enumerate() {
            space_of[fill[p as usize]] = s as u32;
            fill[p as usize] += 1;
        }
        for p in 0..np {
            space_of[space_indptr[p]..space_indptr[p + 1]].sort_unstable_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                spaces.area_m2[a]
                    .total_cmp(&spaces.area_m2[b])
                    .then(a.cmp(&b))
            });
        }
        let mut park_share = vec![0.0; np * N_DIVISIONS];
        for p in 0..np {
            for j in parks.tenant_indptr[p]..parks.tenant_indptr[p + 1] {
                park_share[p * N_DIVISIONS + parks.tenant_div[j] as usize] += parks.tenant_share[j];
            }
        }
        let mut park_div_affinity = vec![0.0; np * N_DIVISIONS];
        if !affinity.is_empty() {
            for p in 0..np {
                let share = &park_share[p * N_DIVISIONS..(p + 1) * N_DIVISIONS];
                for d in 0..N_DIVISIONS {
                    let row = &affinity[d * N_DIVISIONS..(d + 1) * N_DIVISIONS];
                    park_div_affinity[p * N_DIVISIONS + d] =
                        share.iter().zip(row).map(|(s, a)| s * a).sum();
                }
            }
        }
        Ok(Self {
            parks,
            spaces,
            enterprises,
            affinity,
            space_indptr,
            space_of,
            park_share,
            park_div_affinity,
        })
    }

    pub fn n_enterprises(&self) -> usize {
        self.enterprises.lat.len()
    }

    pub fn n_spaces(&self) -> usize {
        self.spaces.park.len()
    }
}
