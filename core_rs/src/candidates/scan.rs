//! One enterprise's scan: the parks in its radius, the hard constraints, the scores.
//!
//! Parks are found in the latitude window of the radius (parks sorted by latitude), then
//! a chord test on the unit sphere rejects those clearly out of reach; the haversine
//! decides the rest, so the parks visited and their distances are those of an exhaustive
//! check (the tests compare with one).

use super::offered::{EnterpriseParts, OfferedByPark, ParkTrig, KINDS};
use super::{mask_has, score::Weights, CandidateIndex, Reason};
use crate::geo::EARTH_RADIUS_KM;

/// A candidate: (score, space row, chain component).
pub(super) type Cand = (i64, u32, f64);

/// Best first: higher score, then lower space row.
#[inline]
pub(super) fn best_first(a: &Cand, b: &Cand) -> std::cmp::Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1))
}

/// An enterprise's requirements, copied out once per enterprise.
pub(super) struct Needs {
    area_min: f64,
    area_max: f64,
    load: f64,
    height: f64,
    power: f64,
    rent: f64,
    hazardous: bool,
    division: u8,
    kinds: u8,
}

/// The first hard constraint (after the radius) offered space `t` fails, or
/// `HasCandidates`.
#[inline]
fn first_failure(
    n: &Needs,
    o: &OfferedByPark,
    t: usize,
    kind: u8,
    industry_ok: bool,
    now_day: i32,
) -> Reason {
    let area = o.area_m2[t];
    if area < n.area_min || area > n.area_max {
        Reason::Area
    } else if o.floor_load_kn_m2[t] < n.load {
        Reason::FloorLoad
    } else if o.ceiling_height_m[t] < n.height {
        Reason::CeilingHeight
    } else if o.power_kva[t] < n.power {
        Reason::Power
    } else if o.rent[t] > n.rent {
        Reason::Rent
    } else if n.hazardous && !o.hazardous_permit[t] {
        Reason::HazardousPermit
    } else if !industry_ok {
        Reason::IndustryNotPermitted
    } else if (n.kinds >> kind) & 1 == 0 {
        Reason::SpaceKind
    } else if o.available_from_day[t] > now_day {
        Reason::NotAvailableYet
    } else {
        Reason::HasCandidates
    }
}

/// Bit `t - start` set for each offered space `t` in `start..end` (at most 64) that
/// passes every hard constraint after the radius, the area (the caller's range), the
/// industry and the kind (the caller's group): branch-free, so that it vectorises.
#[inline]
fn pass_bits(n: &Needs, o: &OfferedByPark, start: usize, end: usize, now_day: i32) -> u64 {
    let load = &o.floor_load_kn_m2[start..end];
    let height = &o.ceiling_height_m[start..end];
    let power = &o.power_kva[start..end];
    let rent = &o.rent[start..end];
    let permit = &o.hazardous_permit[start..end];
    let avail = &o.available_from_day[start..end];
    let mut bits = 0_u64;
    for t in 0..end - start {
        let ok = (load[t] >= n.load)
            & (height[t] >= n.height)
            & (power[t] >= n.power)
            & (rent[t] <= n.rent)
            & (!n.hazardous | permit[t])
            & (avail[t] <= now_day);
        bits |= u64::from(ok) << t;
    }
    bits
}

/// What every enterprise's scan reads.
pub(super) struct Context<'a> {
    pub ix: &'a CandidateIndex,
    pub weights: &'a Weights,
    pub now_day: i32,
    pub offered: &'a OfferedByPark,
    pub trig: &'a ParkTrig,
}

/// Buffers reused from one enterprise to the next (one per parallel chunk).
#[derive(Default)]
pub(super) struct Scratch {
    /// Every feasible candidate of the enterprise.
    pub buf: Vec<Cand>,
}

/// Scan enterprise `e`: `scratch.buf` receives its feasible candidates. Returns the
/// reason code and the number of feasible spaces.
pub(super) fn enterprise_candidates(
    ctx: &Context<'_>,
    e: usize,
    scratch: &mut Scratch,
) -> (Reason, usize) {
    let en = &ctx.ix.enterprises;
    let needs = Needs {
        area_min: en.area_min_m2[e],
        area_max: en.area_max_m2[e],
        load: en.min_floor_load_kn_m2[e],
        height: en.min_ceiling_height_m[e],
        power: en.power_need_kva[e],
        rent: en.max_rent_cny_per_m2_month[e],
        hazardous: en.hazardous_process[e],
        division: en.division[e],
        kinds: en.kinds_mask[e],
    };
    let parts = EnterpriseParts::new(ctx.ix, ctx.weights, e);
    scratch.buf.clear();
    // Fast pass: only the acceptable kinds of the parks admitting the industry.
    let n_feasible = scan_feasible(ctx, e, &needs, &parts, &mut scratch.buf);
    if n_feasible > 0 {
        return (Reason::HasCandidates, n_feasible);
    }
    // No candidate: a second pass over every kind finds the eliminating constraint.
    let (any_park, any_space, worst) = scan_reason(ctx, e, &needs, &parts);
    let reason = if !any_park {
        Reason::NoParkInRadius
    } else if !any_space {
        Reason::NoSpaceInRadius
    } else {
        worst
    };
    (reason, 0)
}

/// Call `visit(p, distance_km)` for each park within enterprise `e`'s radius that `keep`
/// accepts (`keep` runs first: a park it refuses costs no distance).
#[inline]
fn for_each_park_in_radius(
    ctx: &Context<'_>,
    e: usize,
    parts: &EnterpriseParts,
    keep: impl Fn(usize) -> bool,
    mut visit: impl FnMut(usize, f64),
) {
    let radius = ctx.ix.enterprises.radius_km[e];
    let trig = ctx.trig;
    // The great-circle distance is at least the meridian arc between the latitudes: a
    // park farther than the radius in latitude alone (with a margin far above the
    // rounding error) is out. The window of such latitudes is widened a little more, so
    // the exact test below still decides every park at its edge. Inside it, the chord
    // between the unit vectors (six flops) rejects the parks clearly outside the radius;
    // its bound carries margins far above its rounding error, so the haversine decides
    // every park near the boundary.
    let reach = radius * (1.0 + 1e-9) + 1e-9;
    let window = if radius.is_infinite() {
        0..trig.by_lat.len()
    } else {
        let half = reach / EARTH_RADIUS_KM * (1.0 + 1e-9) + 1e-12;
        let (lo, hi) = (parts.lat_rad() - half, parts.lat_rad() + half);
        trig.lat_sorted.partition_point(|&l| l < lo)..trig.lat_sorted.partition_point(|&l| l <= hi)
    };
    for &p in &trig.by_lat[window] {
        let p = p as usize;
        if !keep(p)
            || !parts.chord_may_reach(trig, p)
            || (trig.lat_rad[p] - parts.lat_rad()).abs() * EARTH_RADIUS_KM > reach
        {
            continue;
        }
        let dist = parts.distance_km(ctx.ix, trig, p);
        if dist <= radius {
            visit(p, dist);
        }
    }
}

/// The index range of a group's spaces inside `[area_min, area_max]` (areas sorted).
#[inline]
fn area_range(o: &OfferedByPark, g: usize, needs: &Needs) -> (usize, usize, usize, usize) {
    let (start, end) = (o.indptr[g], o.indptr[g + 1]);
    let areas = &o.area_m2[start..end];
    let (lo, hi) = if areas.len() <= 256 {
        // Sorted, so the counts are the partition points: a streaming, branch-free count
        // beats a binary search whose every step waits on a load.
        areas.iter().fold((0, 0), |(lo, hi), &a| {
            (
                lo + usize::from(a < needs.area_min),
                hi + usize::from(a <= needs.area_max),
            )
        })
    } else {
        let lo = areas.partition_point(|&a| a < needs.area_min);
        (
            lo,
            lo + areas[lo..].partition_point(|&a| a <= needs.area_max),
        )
    };
    (start, end, start + lo, start + hi.max(lo))
}

/// Push every feasible candidate of enterprise `e` into `buf`; returns how many.
fn scan_feasible(
    ctx: &Context<'_>,
    e: usize,
    needs: &Needs,
    parts: &EnterpriseParts,
    buf: &mut Vec<Cand>,
) -> usize {
    let (ix, o) = (ctx.ix, ctx.offered);
    // Only the parks admitting the industry and offering an acceptable kind.
    let keep = |p: usize| {
        needs.kinds & o.kinds_present[p] != 0
            && mask_has(&ix.parks.industry_mask[p], needs.division)
    };
    for_each_park_in_radius(ctx, e, parts, keep, |p, dist| {
        let mut park_parts: Option<(f64, f64, f64)> = None;
        let mut kinds = needs.kinds & o.kinds_present[p];
        while kinds != 0 {
            let kind = kinds.trailing_zeros() as usize;
            kinds &= kinds - 1;
            let (_, _, lo, hi) = area_range(o, p * KINDS + kind, needs);
            let mut start = lo;
            while start < hi {
                let end = (start + 64).min(hi);
                let mut bits = pass_bits(needs, o, start, end, ctx.now_day);
                while bits != 0 {
                    let t = start + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let (term, chain, carbon) = *park_parts.get_or_insert_with(|| {
                        (parts.distance_term(dist), ix.chain(e, p), ix.carbon(e, p))
                    });
                    let score = parts.score(term, o.rent[t], o.area_m2[t], chain, carbon);
                    buf.push((score, o.space[t], chain));
                }
                start = end;
            }
        }
    });
    buf.len()
}

/// For an enterprise without candidates: (a park is in the radius, it offers a space of
/// some kind, the largest first-failed constraint over those spaces).
fn scan_reason(
    ctx: &Context<'_>,
    e: usize,
    needs: &Needs,
    parts: &EnterpriseParts,
) -> (bool, bool, Reason) {
    let (ix, o) = (ctx.ix, ctx.offered);
    let mut any_park = false;
    let mut any_space = false;
    let mut worst = Reason::HasCandidates;
    for_each_park_in_radius(
        ctx,
        e,
        parts,
        |_| true,
        |p, _dist| {
            any_park = true;
            let industry_ok = mask_has(&ix.parks.industry_mask[p], needs.division);
            for kind in 0..KINDS {
                let (start, end, lo, hi) = area_range(o, p * KINDS + kind, needs);
                if start == end {
                    continue;
                }
                any_space = true;
                // Spaces outside the area range fail AREA, the first constraint, which
                // matters only if nothing else is left.
                if hi - lo < end - start {
                    worst = worst.max(Reason::Area);
                }
                for t in lo..hi {
                    let f = first_failure(needs, o, t, kind as u8, industry_ok, ctx.now_day);
                    worst = worst.max(f);
                }
            }
        },
    );
    (any_park, any_space, worst)
}
