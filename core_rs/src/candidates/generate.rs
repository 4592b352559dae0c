//! Per-enterprise hard-constraint filtering, scoring and top-k selection.

use rayon::prelude::*;

use super::{mask_has, score::Weights, CandidateIndex, Reason};
use crate::error::{CoreError, CoreResult};

/// The candidate graph as CSR by enterprise, each row sorted by score (descending, then
/// space index ascending).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    /// n_enterprises + 1 offsets into `cols` and `scores`.
    pub indptr: Vec<i64>,
    /// Space index of each candidate.
    pub cols: Vec<i64>,
    /// Integer score of each candidate (see [`super::score`]).
    pub scores: Vec<i64>,
    /// Industry-chain component of each candidate, in [0, 1].
    pub chain: Vec<f64>,
    /// Per enterprise, a [`Reason`] code (0 when it has candidates).
    pub reason: Vec<u8>,
    /// Per enterprise, the number of feasible spaces before the top-k cut.
    pub n_feasible: Vec<i64>,
}

/// Components of given pairs: distance in km, five components, the integer score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairScores {
    pub distance_km: Vec<f64>,
    /// Row-major `n x 5` in the order of [`super::COMPONENTS`].
    pub components: Vec<f64>,
    pub scores: Vec<i64>,
}

/// One offered space, packed for a cache-friendly scan of its park's group.
#[derive(Clone, Copy)]
struct Offered {
    area_m2: f64,
    floor_load_kn_m2: f64,
    ceiling_height_m: f64,
    power_kva: f64,
    rent: f64,
    available_from_day: i32,
    space: u32,
    kind: u8,
    hazardous_permit: bool,
}

/// Number of space kinds a group index reserves per park.
const KINDS: usize = 8;

/// The offered spaces grouped by (park, kind): group `p * KINDS + kind` is
/// `spaces[indptr[g]..indptr[g + 1]]`, sorted by area.
struct OfferedByPark {
    indptr: Vec<usize>,
    spaces: Vec<Offered>,
    /// `spaces[i].area_m2`, dense, for the binary search of an area range.
    area: Vec<f64>,
}

impl OfferedByPark {
    fn new(ix: &CandidateIndex, space_active: Option<&[bool]>) -> Self {
        let np = ix.parks.lat.len();
        let sp = &ix.spaces;
        let mut indptr = Vec::with_capacity(np * KINDS + 1);
        let mut spaces = Vec::with_capacity(ix.n_spaces());
        indptr.push(0);
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
                    spaces.push(Offered {
                        area_m2: sp.area_m2[su],
                        floor_load_kn_m2: sp.floor_load_kn_m2[su],
                        ceiling_height_m: sp.ceiling_height_m[su],
                        power_kva: sp.power_kva[su],
                        rent: sp.rent_cny_per_m2_month[su],
                        available_from_day: sp.available_from_day[su],
                        space: s,
                        kind: sp.kind[su],
                        hazardous_permit: sp.hazardous_permit[su],
                    });
                }
                indptr.push(spaces.len());
            }
        }
        let area = spaces.iter().map(|s| s.area_m2).collect();
        Self {
            indptr,
            spaces,
            area,
        }
    }
}

/// An enterprise's requirements, copied out once per enterprise.
struct Needs {
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

/// Whether a space passes every hard constraint after the radius and the area (which
/// the caller's range already ensures): branch-free, for the fast pass.
#[inline]
fn passes(n: &Needs, s: &Offered, industry_ok: bool, now_day: i32) -> bool {
    (s.floor_load_kn_m2 >= n.load)
        & (s.ceiling_height_m >= n.height)
        & (s.power_kva >= n.power)
        & (s.rent <= n.rent)
        & (!n.hazardous | s.hazardous_permit)
        & industry_ok
        & ((n.kinds >> s.kind) & 1 == 1)
        & (s.available_from_day <= now_day)
}

/// The first hard constraint (after the radius) a space fails, or `HasCandidates`.
#[inline]
fn first_failure(n: &Needs, s: &Offered, industry_ok: bool, now_day: i32) -> Reason {
    if s.area_m2 < n.area_min || s.area_m2 > n.area_max {
        Reason::Area
    } else if s.floor_load_kn_m2 < n.load {
        Reason::FloorLoad
    } else if s.ceiling_height_m < n.height {
        Reason::CeilingHeight
    } else if s.power_kva < n.power {
        Reason::Power
    } else if s.rent > n.rent {
        Reason::Rent
    } else if n.hazardous && !s.hazardous_permit {
        Reason::HazardousPermit
    } else if !industry_ok {
        Reason::IndustryNotPermitted
    } else if (n.kinds >> s.kind) & 1 == 0 {
        Reason::SpaceKind
    } else if s.available_from_day > now_day {
        Reason::NotAvailableYet
    } else {
        Reason::HasCandidates
    }
}

struct Chunk {
    counts: Vec<i64>,
    cols: Vec<i64>,
    scores: Vec<i64>,
    chain: Vec<f64>,
    reason: Vec<u8>,
    n_feasible: Vec<i64>,
}

/// Candidates of every enterprise: hard filters, scores, the best `k` (`k = 0`: all).
///
/// `space_active[s] = false` hides space `s` (taken); `enterprise_active[e] = false`
/// gives enterprise `e` no candidates (reason `Excluded`); `now_day` is days since
/// 1970-01-01. Cost: per enterprise, the parks in its radius' grid cells and their spaces,
/// plus O(F) selection over its F feasible spaces; enterprises run in parallel.
pub fn generate(
    ix: &CandidateIndex,
    weights: &Weights,
    k: usize,
    now_day: i32,
    space_active: Option<&[bool]>,
    enterprise_active: Option<&[bool]>,
) -> CoreResult<Candidates> {
    weights.validate()?;
    if let Some(a) = enterprise_active {
        if a.len() != ix.n_enterprises() {
            return Err(CoreError::invalid(
                "enterprise_active",
                None,
                format!(
                    "has {} entries, enterprises has {}",
                    a.len(),
                    ix.n_enterprises()
                ),
            ));
        }
    }
    if let Some(a) = space_active {
        if a.len() != ix.n_spaces() {
            return Err(CoreError::invalid(
                "space_active",
                None,
                format!("has {} entries, spaces has {}", a.len(), ix.n_spaces()),
            ));
        }
    }
    let k = if k == 0 { usize::MAX } else { k };
    let n = ix.n_enterprises();
    let offered = &OfferedByPark::new(ix, space_active);
    const CHUNK: usize = 2048;
    let chunks: Vec<Chunk> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let range = c * CHUNK..((c + 1) * CHUNK).min(n);
            let mut out = Chunk {
                counts: Vec::with_capacity(range.len()),
                cols: Vec::new(),
                scores: Vec::new(),
                chain: Vec::new(),
                reason: Vec::with_capacity(range.len()),
                n_feasible: Vec::with_capacity(range.len()),
            };
            let mut buf: Vec<(i64, u32, f64)> = Vec::new();
            for e in range {
                buf.clear();
                let reason = if enterprise_active.is_some_and(|a| !a[e]) {
                    Reason::Excluded
                } else {
                    enterprise_candidates(ix, weights, e, now_day, offered, &mut buf)
                };
                out.n_feasible.push(buf.len() as i64);
                let cmp =
                    |a: &(i64, u32, f64), b: &(i64, u32, f64)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
                if buf.len() > k {
                    buf.select_nth_unstable_by(k - 1, cmp);
                    buf.truncate(k);
                }
                buf.sort_unstable_by(cmp);
                out.counts.push(buf.len() as i64);
                out.cols.extend(buf.iter().map(|&(_, s, _)| i64::from(s)));
                out.scores.extend(buf.iter().map(|&(sc, _, _)| sc));
                out.chain.extend(buf.iter().map(|&(_, _, ch)| ch));
                out.reason.push(reason as u8);
            }
            out
        })
        .collect();
    let total: usize = chunks.iter().map(|c| c.cols.len()).sum();
    let mut res = Candidates {
        indptr: Vec::with_capacity(n + 1),
        cols: Vec::with_capacity(total),
        scores: Vec::with_capacity(total),
        chain: Vec::with_capacity(total),
        reason: Vec::with_capacity(n),
        n_feasible: Vec::with_capacity(n),
    };
    res.indptr.push(0);
    let mut acc = 0_i64;
    for ch in chunks {
        for c in ch.counts {
            acc += c;
            res.indptr.push(acc);
        }
        res.cols.extend(ch.cols);
        res.scores.extend(ch.scores);
        res.chain.extend(ch.chain);
        res.reason.extend(ch.reason);
        res.n_feasible.extend(ch.n_feasible);
    }
    Ok(res)
}

/// Push every feasible `(score, space)` of enterprise `e` into `buf`; return the reason.
fn enterprise_candidates(
    ix: &CandidateIndex,
    weights: &Weights,
    e: usize,
    now_day: i32,
    offered: &OfferedByPark,
    buf: &mut Vec<(i64, u32, f64)>,
) -> Reason {
    let en = &ix.enterprises;
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
    // Fast pass: only the acceptable kinds can hold candidates.
    let mut sink = Some(buf);
    let _ = scan(
        ix,
        weights,
        e,
        &needs,
        now_day,
        offered,
        needs.kinds,
        &mut sink,
    );
    if sink.is_some_and(|b| !b.is_empty()) {
        return Reason::HasCandidates;
    }
    // No candidate: a second pass over every kind finds the eliminating constraint.
    let (any_park, any_space, worst) =
        scan(ix, weights, e, &needs, now_day, offered, u8::MAX, &mut None);
    if !any_park {
        Reason::NoParkInRadius
    } else if !any_space {
        Reason::NoSpaceInRadius
    } else {
        worst
    }
}

/// Visit the parks in enterprise `e`'s radius and their offered spaces of the `kinds`;
/// push feasible candidates into `sink` when given. Returns (a park is in the radius,
/// it offers a space of those kinds, the largest first-failed constraint).
#[allow(clippy::too_many_arguments)]
fn scan(
    ix: &CandidateIndex,
    weights: &Weights,
    e: usize,
    needs: &Needs,
    now_day: i32,
    offered: &OfferedByPark,
    kinds: u8,
    sink: &mut Option<&mut Vec<(i64, u32, f64)>>,
) -> (bool, bool, Reason) {
    let en = &ix.enterprises;
    let radius = en.radius_km[e];
    let mut any_park = false;
    let mut any_space = false;
    let mut worst = Reason::HasCandidates;
    let mut visit = |p: u32| {
        let p = p as usize;
        let dist = ix.distance_km(e, p);
        if dist > radius {
            return;
        }
        any_park = true;
        let industry_ok = mask_has(&ix.parks.industry_mask[p], needs.division);
        let mut park_parts: Option<(f64, f64)> = None;
        for kind in 0..KINDS {
            if (kinds >> kind) & 1 == 0 {
                continue;
            }
            let g = p * KINDS + kind;
            let range = offered.indptr[g]..offered.indptr[g + 1];
            if range.is_empty() {
                continue;
            }
            any_space = true;
            let group = &offered.spaces[range.clone()];
            let areas = &offered.area[range];
            // Only spaces inside the area range can pass; the others fail AREA, the
            // first constraint, which matters for the reason only if nothing else is left.
            // One binary search on the dense areas, then a forward scan to the range end.
            let lo = areas.partition_point(|&a| a < needs.area_min);
            let hi = lo
                + areas[lo..]
                    .iter()
                    .take_while(|&&a| a <= needs.area_max)
                    .count();
            if hi - lo < group.len() {
                worst = worst.max(Reason::Area);
            }
            if let Some(buf) = sink.as_deref_mut() {
                for s in &group[lo..hi] {
                    if passes(needs, s, industry_ok, now_day) {
                        let (chain, carbon) =
                            *park_parts.get_or_insert_with(|| (ix.chain(e, p), ix.carbon(e, p)));
                        let c = ix.components(e, s.space as usize, dist, chain, carbon);
                        buf.push((weights.score(&c), s.space, chain));
                    }
                }
            } else {
                for s in &group[lo..hi] {
                    worst = worst.max(first_failure(needs, s, industry_ok, now_day));
                }
            }
        }
    };
    if radius.is_infinite() {
        (0..ix.parks.lat.len() as u32).for_each(&mut visit);
    } else {
        ix.grid
            .for_each_near(en.lat[e], en.lon[e], radius, &mut visit);
    }
    (any_park, any_space, worst)
}

/// Distance, components and score of the pairs `(enterprise[i], space[i])`, whether or
/// not they are feasible. O(pairs), parallel.
pub fn score_pairs(
    ix: &CandidateIndex,
    weights: &Weights,
    enterprise: &[i64],
    space: &[i64],
) -> CoreResult<PairScores> {
    weights.validate()?;
    if enterprise.len() != space.len() {
        return Err(CoreError::invalid(
            "space",
            None,
            "length differs from enterprise",
        ));
    }
    let (ne, ns) = (ix.n_enterprises() as i64, ix.n_spaces() as i64);
    if let Some(i) = enterprise.iter().position(|&e| e < 0 || e >= ne) {
        return Err(CoreError::invalid(
            "enterprise",
            Some(i),
            "index out of range",
        ));
    }
    if let Some(i) = space.iter().position(|&s| s < 0 || s >= ns) {
        return Err(CoreError::invalid("space", Some(i), "index out of range"));
    }
    let rows: Vec<(f64, [f64; 5], i64)> = enterprise
        .par_iter()
        .zip(space.par_iter())
        .with_min_len(1024)
        .map(|(&e, &s)| {
            let (e, s) = (e as usize, s as usize);
            let p = ix.spaces.park[s] as usize;
            let d = ix.distance_km(e, p);
            let c = ix.components(e, s, d, ix.chain(e, p), ix.carbon(e, p));
            (d, c, weights.score(&c))
        })
        .collect();
    let mut out = PairScores {
        distance_km: Vec::with_capacity(rows.len()),
        components: Vec::with_capacity(rows.len() * 5),
        scores: Vec::with_capacity(rows.len()),
    };
    for (d, c, s) in rows {
        out.distance_km.push(d);
        out.components.extend_from_slice(&c);
        out.scores.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{Enterprises, Parks, Spaces};
    use super::*;

    fn index() -> CandidateIndex {
        let all = [u64::MAX, u64::MAX];
        let parks = Parks {
            lat: vec![31.0, 31.0, 40.0],
            lon: vec![121.0, 121.1, 116.0],
            industry_mask: vec![all, [1 << 5, 0], all],
            remaining_co2e_t: vec![100.0, 0.0, f64::INFINITY],
            tenant_indptr: vec![0, 2, 2, 2],
            tenant_div: vec![5, 7],
            tenant_share: vec![0.5, 0.5],
        };
        let spaces = Spaces {
            park: vec![0, 0, 1, 2],
            area_m2: vec![100.0, 200.0, 150.0, 150.0],
            floor_load_kn_m2: vec![5.0; 4],
            ceiling_height_m: vec![6.0; 4],
            power_kva: vec![100.0; 4],
            rent_cny_per_m2_month: vec![30.0, 20.0, 25.0, 10.0],
            hazardous_permit: vec![false, true, true, true],
            available_from_day: vec![0; 4],
            kind: vec![0; 4],
        };
        let enterprises = Enterprises {
            area_min_m2: vec![100.0, 1000.0],
            area_max_m2: vec![200.0, 2000.0],
            min_floor_load_kn_m2: vec![0.0; 2],
            min_ceiling_height_m: vec![0.0; 2],
            power_need_kva: vec![0.0; 2],
            max_rent_cny_per_m2_month: vec![40.0; 2],
            lat: vec![31.0, 31.0],
            lon: vec![121.05, 121.05],
            radius_km: vec![50.0, 50.0],
            hazardous_process: vec![false; 2],
            division: vec![7, 7],
            kinds_mask: vec![0xff; 2],
            chain_mask: vec![[1 << 5, 0]; 2],
            annual_co2e_t: vec![50.0, 50.0],
        };
        CandidateIndex::new(parks, spaces, enterprises, Vec::new()).unwrap()
    }

    #[test]
    fn filters_scores_and_reasons() {
        let ix = index();
        let w = Weights([1.0; 5]);
        let c = generate(&ix, &w, 0, 0, None, None).unwrap();
        // Enterprise 0: spaces 0 and 1 (park 0); park 1 does not admit division 7;
        // park 2 is 1000 km away.
        assert_eq!(c.indptr, vec![0, 2, 2]);
        let mut got = c.cols[..2].to_vec();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(c.reason, vec![0, Reason::Area as u8]);
        let k1 = generate(&ix, &w, 1, 0, None, None).unwrap();
        assert_eq!(k1.cols.len(), 1);
        assert_eq!(k1.scores[0], c.scores[0]);
        assert_eq!(k1.n_feasible, vec![2, 0]);
        // Chain: half the park's tenants are in a supplier division (5).
        assert!((ix.chain(0, 0) - 0.5).abs() < 1e-12);
        assert!((ix.carbon(0, 0) - 0.5).abs() < 1e-12);
        let ps = score_pairs(&ix, &w, &[0], &[c.cols[0]]).unwrap();
        assert_eq!(ps.scores[0], c.scores[0]);
        // Taking both spaces of park 0 leaves only park 1's space, barred by industry.
        let active = [false, false, true, true];
        let t = generate(&ix, &w, 0, 0, Some(&active), Some(&[true, false])).unwrap();
        assert_eq!(
            t.reason,
            vec![Reason::IndustryNotPermitted as u8, Reason::Excluded as u8]
        );
        let far = [true, true, false, true];
        let _ = generate(&ix, &w, 0, -1, Some(&far), None).unwrap();
    }
}
