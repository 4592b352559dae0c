//! Per-enterprise hard-constraint filtering, scoring and top-k selection.

use rayon::prelude::*;

use super::offered::{OfferedByPark, ParkTrig};
use super::scan::{best_first, enterprise_candidates, Context, Scratch};
use super::{score::Weights, CandidateIndex, Reason};
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
    let ctx = Context {
        ix,
        weights,
        now_day,
        offered: &OfferedByPark::new(ix, space_active),
        trig: &ParkTrig::new(ix),
    };
    let mut res = Candidates {
        indptr: Vec::with_capacity(n + 1),
        cols: Vec::new(),
        scores: Vec::new(),
        chain: Vec::new(),
        reason: Vec::with_capacity(n),
        n_feasible: Vec::with_capacity(n),
    };
    res.indptr.push(0);
    let mut acc = 0_i64;
    // Blocks of chunks, appended as each block ends: the per-chunk buffers alive at once
    // cover one block, not the whole graph (the output is not held twice).
    const CHUNK: usize = 2048;
    const BLOCK: usize = 32 * CHUNK;
    for first in (0..n).step_by(BLOCK) {
        let last = (first + BLOCK).min(n);
        let chunks: Vec<Chunk> = (first..last)
            .step_by(CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|c| chunk(&ctx, c..(c + CHUNK).min(last), k, enterprise_active))
            .collect();
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
    }
    Ok(res)
}

/// Candidates of the enterprises in `range`, best `k` of each, sorted.
fn chunk(
    ctx: &Context<'_>,
    range: std::ops::Range<usize>,
    k: usize,
    enterprise_active: Option<&[bool]>,
) -> Chunk {
    let mut out = Chunk {
        counts: Vec::with_capacity(range.len()),
        cols: Vec::new(),
        scores: Vec::new(),
        chain: Vec::new(),
        reason: Vec::with_capacity(range.len()),
        n_feasible: Vec::with_capacity(range.len()),
    };
    let mut scratch = Scratch::default();
    for e in range {
        let (reason, n_feasible) = if enterprise_active.is_some_and(|a| !a[e]) {
            scratch.buf.clear();
            (Reason::Excluded, 0)
        } else {
            enterprise_candidates(ctx, e, &mut scratch)
        };
        out.n_feasible.push(n_feasible as i64);
        let buf = &mut scratch.buf;
        if buf.len() > k {
            buf.select_nth_unstable_by(k - 1, best_first);
            buf.truncate(k);
        }
        buf.sort_unstable_by(best_first);
        out.counts.push(buf.len() as i64);
        out.cols.extend(buf.iter().map(|&(_, s, _)| i64::from(s)));
        out.scores.extend(buf.iter().map(|&(sc, _, _)| sc));
        out.chain.extend(buf.iter().map(|&(_, _, ch)| ch));
        out.reason.push(reason as u8);
    }
    out
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
