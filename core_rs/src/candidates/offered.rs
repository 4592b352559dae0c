//! The offered spaces grouped by (park, kind), column by column, and the parts of the
//! soft score that do not depend on the space, computed once per enterprise and park.
//!
//! Everything here reproduces [`super::score`] and [`crate::geo::haversine_km`]
//! operation for operation (same operands, same order), so scores and distances are
//! bit-identical to theirs; only where the work happens changes.

use super::{score::Weights, CandidateIndex, SCORE_SCALE};
use crate::geo::EARTH_RADIUS_KM;

/// Number of space kinds a group index reserves per park.
pub(super) const KINDS: usize = 8;

/// The offered spaces grouped by (park, kind): group `g = p * KINDS + kind` is the index
/// range `indptr[g]..indptr[g + 1]` of every column below, sorted by area (then row).
pub(super) struct OfferedByPark {
    pub indptr: Vec<usize>,
    pub area_m2: Vec<f64>,
    pub floor_load_kn_m2: Vec<f64>,
    pub ceiling_height_m: Vec<f64>,
    pub power_kva: Vec<f64>,
    pub rent: Vec<f64>,
    pub available_from_day: Vec<i32>,
    pub hazardous_permit: Vec<bool>,
    pub space: Vec<u32>,
    /// Per park, bit `kind` set when the park offers a space of that kind.
    pub kinds_present: Vec<u8>,
}

impl OfferedByPark {
    pub fn new(ix: &CandidateIndex, space_active: Option<&[bool]>) -> Self {
        let np = ix.parks.lat.len();
        let sp = &ix.spaces;
        let ns = ix.n_spaces();
        let mut o = Self {
            indptr: Vec::with_capacity(np * KINDS + 1),
            area_m2: Vec::with_capacity(ns),
            floor_load_kn_m2: Vec::with_capacity(ns),
            ceiling_height_m: Vec::with_capacity(ns),
            power_kva: Vec::with_capacity(ns),
            rent: Vec::with_capacity(ns),
            available_from_day: Vec::with_capacity(ns),
            hazardous_permit: Vec::with_capacity(ns),
            space: Vec::with_capacity(ns),
            kinds_present: vec![0; np],
        };
        o.indptr.push(0);
        for p in 0..np {
            // `space_of` is already sorted by area within each park; a stable pass per
            // kind keeps that order inside each (park, kind) group.
            let group = &ix.space_of[ix.space_indptr[p]..ix.space_indptr[p + 1]];
            for kind in 0..KINDS as u8 {
                for &s in group {
                    let su = s as usize;
                    if sp.kind[su] != kind || space_active.is_some_and(|a| !a[su]) {
                        continue;
                    }
                    o.area_m2.push(sp.area_m2[su]);
                    o.floor_load_kn_m2.push(sp.floor_load_kn_m2[su]);
                    o.ceiling_height_m.push(sp.ceiling_height_m[su]);
                    o.power_kva.push(sp.power_kva[su]);
                    o.rent.push(sp.rent_cny_per_m2_month[su]);
                    o.available_from_day.push(sp.available_from_day[su]);
                    o.hazardous_permit.push(sp.hazardous_permit[su]);
                    o.space.push(s);
                }
                let g = o.indptr.len() - 1;
                if o.space.len() > o.indptr[g] {
                    o.kinds_present[p] |= 1 << kind;
                }
                o.indptr.push(o.space.len());
            }
        }
        o
    }
}

/// Per park: latitude in radians and its cosine (the enterprise-independent half of the
/// haversine formula), and the park's point on the unit sphere (for the chord pre-filter).
pub(super) struct ParkTrig {
    pub lat_rad: Vec<f64>,
    pub cos_lat: Vec<f64>,
    pub unit: Vec<[f64; 3]>,
    /// Park rows by increasing latitude, and their latitudes (radians) in that order.
    pub by_lat: Vec<u32>,
    pub lat_sorted: Vec<f64>,
}

/// The point at `(lat_rad, lon_deg)` on the unit sphere.
fn unit_vector(lat_rad: f64, cos_lat: f64, lon_deg: f64) -> [f64; 3] {
    let lon = lon_deg.to_radians();
    [cos_lat * lon.cos(), cos_lat * lon.sin(), lat_rad.sin()]
}

impl ParkTrig {
    pub fn new(ix: &CandidateIndex) -> Self {
        let lat_rad: Vec<f64> = ix.parks.lat.iter().map(|l| l.to_radians()).collect();
        let cos_lat: Vec<f64> = lat_rad.iter().map(|p| p.cos()).collect();
        let unit = (0..lat_rad.len())
            .map(|p| unit_vector(lat_rad[p], cos_lat[p], ix.parks.lon[p]))
            .collect();
        let mut by_lat: Vec<u32> = (0..lat_rad.len() as u32).collect();
        by_lat.sort_unstable_by(|&a, &b| lat_rad[a as usize].total_cmp(&lat_rad[b as usize]));
        let lat_sorted = by_lat.iter().map(|&p| lat_rad[p as usize]).collect();
        Self {
            lat_rad,
            cos_lat,
            unit,
            by_lat,
            lat_sorted,
        }
    }
}

/// The largest squared chord (unit sphere) of a great-circle distance `radius_km`, with
/// margins (1e-6 relative, 1e-9 absolute, i.e. 6 mm) far above the rounding error of both
/// the chord and the haversine; `+inf` when the radius reaches half the globe.
fn chord_bound_sq(radius_km: f64) -> f64 {
    let half_angle = radius_km / (2.0 * EARTH_RADIUS_KM) * (1.0 + 1e-6);
    if half_angle >= std::f64::consts::FRAC_PI_2 || half_angle.is_nan() {
        return f64::INFINITY;
    }
    let chord = 2.0 * half_angle.sin() + 1e-9;
    chord * chord
}

/// `x.round() as i64` for `0 <= x < 2^52` without the libm call: the fraction `x - trunc(x)`
/// is exact there, and halves round up (away from zero), as `f64::round` does.
#[inline]
pub(super) fn round_nonneg(x: f64) -> i64 {
    let t = x as i64;
    t + i64::from(x - t as f64 >= 0.5)
}

/// An enterprise's side of the distance and the score.
pub(super) struct EnterpriseParts {
    lat_rad: f64,
    cos_lat: f64,
    unit: [f64; 3],
    chord_max_sq: f64,
    lon: f64,
    radius: f64,
    max_rent: f64,
    area_centre: f64,
    area_half: f64,
    w: [f64; 5],
    w_total: f64,
}

impl EnterpriseParts {
    pub fn new(ix: &CandidateIndex, weights: &Weights, e: usize) -> Self {
        let en = &ix.enterprises;
        let lat_rad = en.lat[e].to_radians();
        let (lo, hi) = (en.area_min_m2[e], en.area_max_m2[e]);
        let half = (hi - lo) / 2.0;
        let cos_lat = lat_rad.cos();
        Self {
            lat_rad,
            cos_lat,
            unit: unit_vector(lat_rad, cos_lat, en.lon[e]),
            chord_max_sq: chord_bound_sq(en.radius_km[e]),
            lon: en.lon[e],
            radius: en.radius_km[e],
            max_rent: en.max_rent_cny_per_m2_month[e],
            area_centre: lo + half,
            area_half: half,
            w: weights.0,
            w_total: weights.0.iter().sum(),
        }
    }

    /// The enterprise's latitude, radians.
    #[inline]
    pub fn lat_rad(&self) -> f64 {
        self.lat_rad
    }

    /// Whether park `p` may lie within the radius: `false` only when the chord to it is
    /// longer than the radius' chord plus the margins (then the haversine exceeds the
    /// radius too).
    #[inline]
    pub fn chord_may_reach(&self, trig: &ParkTrig, p: usize) -> bool {
        let q = &trig.unit[p];
        let (dx, dy, dz) = (
            self.unit[0] - q[0],
            self.unit[1] - q[1],
            self.unit[2] - q[2],
        );
        dx * dx + dy * dy + dz * dz <= self.chord_max_sq
    }

    /// [`crate::geo::haversine_km`] from the enterprise to park `p`, km.
    #[inline]
    pub fn distance_km(&self, ix: &CandidateIndex, trig: &ParkTrig, p: usize) -> f64 {
        let (p1, p2) = (self.lat_rad, trig.lat_rad[p]);
        let dp = p2 - p1;
        let dl = (ix.parks.lon[p] - self.lon).to_radians();
        let a =
            (dp / 2.0).sin().powi(2) + self.cos_lat * trig.cos_lat[p] * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }

    /// The weighted distance term, first of the score's sum.
    #[inline]
    pub fn distance_term(&self, dist_km: f64) -> f64 {
        let distance = if self.radius.is_infinite() {
            1.0
        } else {
            1.0 - dist_km / self.radius
        };
        self.w[0] * distance.clamp(0.0, 1.0)
    }

    /// The integer score of a space with the given rent and area, as
    /// [`Weights::score`] of [`CandidateIndex::components`].
    #[inline]
    pub fn score(
        &self,
        distance_term: f64,
        rent: f64,
        area_m2: f64,
        chain: f64,
        carbon: f64,
    ) -> i64 {
        let mean = self.mean(distance_term, rent, area_m2, chain, carbon);
        1 + round_nonneg(SCORE_SCALE * mean.clamp(0.0, 1.0))
    }

    /// The weighted mean of the components, summed in [`Weights::score`]'s order.
    #[inline]
    fn mean(&self, distance_term: f64, rent: f64, area_m2: f64, chain: f64, carbon: f64) -> f64 {
        let cost = if self.max_rent > 0.0 {
            (self.max_rent - rent) / self.max_rent
        } else {
            1.0
        };
        let size = if self.area_half > 0.0 {
            1.0 - (area_m2 - self.area_centre).abs() / self.area_half
        } else {
            1.0
        };
        let sum = distance_term + self.w[1] * cost.clamp(0.0, 1.0);
        let sum = sum + self.w[2] * size.clamp(0.0, 1.0);
        let sum = sum + self.w[3] * chain;
        let sum = sum + self.w[4] * carbon;
        sum / self.w_total
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Enterprises, Parks, Spaces};
    use super::*;

    /// The hoisted distance and score are bit-identical to the reference path
    /// (`haversine_km`, `components`, `Weights::score`) on random pairs.
    #[test]
    fn hoisted_parts_equal_the_reference() {
        let mut seed = 7_u64;
        let mut rnd = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 11) as f64 / (1_u64 << 53) as f64
        };
        let (np, ns, ne) = (7, 40, 60);
        let all = [u64::MAX, u64::MAX];
        let parks = Parks {
            lat: (0..np).map(|_| 22.0 + rnd()).collect(),
            lon: (0..np).map(|_| 113.0 + rnd()).collect(),
            industry_mask: vec![all; np],
            remaining_co2e_t: (0..np).map(|_| 1000.0 * rnd()).collect(),
            tenant_indptr: (0..=np).map(|p| p.min(3)).collect(),
            tenant_div: vec![2, 5, 9],
            tenant_share: vec![1.0, 1.0, 1.0],
        };
        let spaces = Spaces {
            park: (0..ns).map(|s| (s % np) as u32).collect(),
            area_m2: (0..ns).map(|_| 100.0 + 900.0 * rnd()).collect(),
            floor_load_kn_m2: vec![10.0; ns],
            ceiling_height_m: vec![8.0; ns],
            power_kva: vec![500.0; ns],
            rent_cny_per_m2_month: (0..ns).map(|_| 60.0 * rnd()).collect(),
            hazardous_permit: vec![true; ns],
            available_from_day: vec![0; ns],
            kind: vec![0; ns],
        };
        let area_min: Vec<f64> = (0..ne).map(|_| 100.0 + 400.0 * rnd()).collect();
        let enterprises = Enterprises {
            area_max_m2: area_min.iter().map(|a| a + 500.0 * rnd()).collect(),
            area_min_m2: area_min,
            min_floor_load_kn_m2: vec![0.0; ne],
            min_ceiling_height_m: vec![0.0; ne],
            power_need_kva: vec![0.0; ne],
            max_rent_cny_per_m2_month: (0..ne)
                .map(|e| if e % 9 == 0 { 0.0 } else { 50.0 * rnd() })
                .collect(),
            lat: (0..ne).map(|_| 22.0 + rnd()).collect(),
            lon: (0..ne).map(|_| 113.0 + rnd()).collect(),
            radius_km: (0..ne)
                .map(|e| {
                    if e % 7 == 0 {
                        f64::INFINITY
                    } else {
                        5.0 + 100.0 * rnd()
                    }
                })
                .collect(),
            hazardous_process: vec![false; ne],
            division: (0..ne).map(|e| (e % 97) as u8).collect(),
            kinds_mask: vec![0xff; ne],
            chain_mask: (0..ne).map(|e| [1 << (e % 11), 0]).collect(),
            annual_co2e_t: (0..ne).map(|_| 100.0 * rnd()).collect(),
        };
        let ix = CandidateIndex::new(parks, spaces, enterprises, Vec::new()).unwrap();
        let trig = ParkTrig::new(&ix);
        for weights in [Weights([1.0; 5]), Weights([0.3, 0.0, 2.5, 0.7, 0.11])] {
            for e in 0..ne {
                let parts = EnterpriseParts::new(&ix, &weights, e);
                for s in 0..ns {
                    let p = ix.spaces.park[s] as usize;
                    let d = parts.distance_km(&ix, &trig, p);
                    assert_eq!(d.to_bits(), ix.distance_km(e, p).to_bits());
                    let (chain, carbon) = (ix.chain(e, p), ix.carbon(e, p));
                    let args = (
                        parts.distance_term(d),
                        ix.spaces.rent_cny_per_m2_month[s],
                        ix.spaces.area_m2[s],
                        chain,
                        carbon,
                    );
                    let c = ix.components(e, s, d, chain, carbon);
                    // Weights::score's mean, as it computes it.
                    let total: f64 = weights.0.iter().sum();
                    let mean = weights.0.iter().zip(&c).map(|(w, x)| w * x).sum::<f64>() / total;
                    let fast = parts.mean(args.0, args.1, args.2, args.3, args.4);
                    assert_eq!(fast.to_bits(), mean.to_bits(), "enterprise {e}, space {s}");
                    let score = parts.score(args.0, args.1, args.2, args.3, args.4);
                    assert_eq!(score, weights.score(&c));
                }
            }
        }
    }
}
