//! The `candidates` harness: candidate generation on fuzzed parks, spaces and enterprises.

use _core::candidates::score::Weights;
use _core::candidates::{generate, CandidateIndex, Enterprises, Parks, Spaces};
use arbitrary::{Arbitrary, Result, Unstructured};

use super::{init, real, reals, size, vec_of};

fn candidates_case(u: &mut Unstructured<'_>) -> Result<()> {
    let np = size(u, 6)?.min(64);
    let ns = size(u, 12)?.min(256);
    let ne = size(u, 12)?.min(256);
    let mask = |u: &mut Unstructured<'_>| -> Result<[u64; 2]> {
        Ok([u64::arbitrary(u)?, u64::arbitrary(u)?])
    };
    let nt = size(u, 8)?.min(64);
    let mut tenant_indptr = vec![0_usize];
    for p in 0..np {
        // Usually a valid CSR index over the `nt` entries, sometimes not.
        let step = if p + 1 == np && bool::arbitrary(u)? {
            nt.saturating_sub(tenant_indptr[p])
        } else {
            size(u, 3)?.min(64)
        };
        tenant_indptr.push(tenant_indptr[p] + step);
    }
    let parks = Parks {
        lat: reals(u, np)?,
        lon: reals(u, np)?,
        industry_mask: vec_of(np, || mask(u))?,
        remaining_co2e_t: reals(u, np)?,
        tenant_indptr,
        tenant_div: vec_of(nt, || Ok(u8::arbitrary(u)? % 100))?,
        tenant_share: reals(u, nt)?,
    };
    let spaces = Spaces {
        park: vec_of(ns, || Ok(u32::from(u8::arbitrary(u)?) % (np as u32 + 1)))?,
        area_m2: reals(u, ns)?,
        floor_load_kn_m2: reals(u, ns)?,
        ceiling_height_m: reals(u, ns)?,
        power_kva: reals(u, ns)?,
        rent_cny_per_m2_month: reals(u, ns)?,
        hazardous_permit: vec_of(ns, || bool::arbitrary(u))?,
        available_from_day: vec_of(ns, || i32::arbitrary(u))?,
        kind: vec_of(ns, || Ok(u8::arbitrary(u)? % 9))?,
    };
    let enterprises = Enterprises {
        area_min_m2: reals(u, ne)?,
        area_max_m2: reals(u, ne)?,
        min_floor_load_kn_m2: reals(u, ne)?,
        min_ceiling_height_m: reals(u, ne)?,
        power_need_kva: reals(u, ne)?,
        max_rent_cny_per_m2_month: reals(u, ne)?,
        lat: reals(u, ne)?,
        lon: reals(u, ne)?,
        radius_km: reals(u, ne)?,
        hazardous_process: vec_of(ne, || bool::arbitrary(u))?,
        division: vec_of(ne, || Ok(u8::arbitrary(u)? % 100))?,
        kinds_mask: vec_of(ne, || u8::arbitrary(u))?,
        chain_mask: vec_of(ne, || mask(u))?,
        annual_co2e_t: reals(u, ne)?,
    };
    let affinity = if bool::arbitrary(u)? {
        reals(u, 97 * 97)?.iter().map(|a| a.abs().fract()).collect()
    } else {
        Vec::new()
    };
    let Ok(ix) = CandidateIndex::new(parks, spaces, enterprises, affinity) else {
        return Ok(());
    };
    let weights = Weights([real(u)?, real(u)?, real(u)?, real(u)?, real(u)?]);
    let k = size(u, 8)?;
    let now = i32::arbitrary(u)?;
    let active = if bool::arbitrary(u)? {
        Some(vec_of(ix.n_spaces(), || bool::arbitrary(u))?)
    } else {
        None
    };
    let Ok(c) = generate::generate(&ix, &weights, k, now, active.as_deref(), None) else {
        return Ok(());
    };
    assert_eq!(c.indptr.len(), ix.n_enterprises() + 1, "indptr length");
    assert_eq!(
        c.indptr.last().copied(),
        Some(c.cols.len() as i64),
        "indptr end"
    );
    for e in 0..ix.n_enterprises() {
        let (a, b) = (c.indptr[e] as usize, c.indptr[e + 1] as usize);
        assert!(a <= b, "indptr decreases");
        assert!(k == 0 || b - a <= k, "more than k candidates");
        for w in c.scores[a..b].windows(2) {
            assert!(w[0] >= w[1], "candidates not in score order");
        }
        for &s in &c.cols[a..b] {
            assert!((s as usize) < ix.n_spaces(), "candidate space out of range");
            if let Some(act) = &active {
                assert!(act[s as usize], "an inactive space offered");
            }
        }
    }
    Ok(())
}

/// Candidate index construction and generation over made-up tables.
pub fn candidates(data: &[u8]) {
    init();
    let _ = candidates_case(&mut Unstructured::new(data));
}

// --- Carbon ----------------------------------------------------------------------------
