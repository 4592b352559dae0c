//! Candidate generation against a brute-force reference on random small instances: the
//! pruned, indexed scan must give exactly the edges, scores, chain values, feasible
//! counts and reasons of checking every (enterprise, space) pair.

use super::generate::{generate, Candidates};
use super::offered::{round_nonneg, EnterpriseParts, ParkTrig};
use super::score::Weights;
use super::{mask_has, CandidateIndex, Enterprises, Parks, Reason, Spaces, N_DIVISIONS};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
    fn unit(&mut self) -> f64 {
        self.next() as f64 / (1_u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// A random instance with few distinct values (ties in score), empty parks, zero-area
/// requests and spaces, infinite and tiny radii, parks admitting one division.
fn instance(rng: &mut Rng) -> CandidateIndex {
    let np = rng.below(7);
    let all = [u64::MAX, u64::MAX];
    let mut tenant_indptr = vec![0];
    let (mut tenant_div, mut tenant_share) = (Vec::new(), Vec::new());
    for _ in 0..np {
        let n = rng.below(3);
        for _ in 0..n {
            tenant_div.push(rng.below(6) as u8);
            tenant_share.push(1.0 / n as f64);
        }
        tenant_indptr.push(tenant_div.len());
    }
    let parks = Parks {
        lat: (0..np).map(|_| 30.0 + 0.2 * rng.unit()).collect(),
        lon: (0..np).map(|_| 120.0 + 0.2 * rng.unit()).collect(),
        industry_mask: (0..np)
            .map(|_| if rng.below(3) == 0 { [0b11, 0] } else { all })
            .collect(),
        remaining_co2e_t: (0..np)
            .map(|_| rng.pick(&[0.0, 50.0, 100.0, f64::INFINITY]))
            .collect(),
        tenant_indptr,
        tenant_div,
        tenant_share,
    };
    // Some parks get no space at all.
    let ns = if np == 0 { 0 } else { rng.below(40) };
    let spaces = Spaces {
        park: (0..ns).map(|_| rng.below(np.max(1)) as u32).collect(),
        area_m2: (0..ns)
            .map(|_| rng.pick(&[0.0, 50.0, 100.0, 100.0, 200.0]))
            .collect(),
        floor_load_kn_m2: (0..ns).map(|_| rng.pick(&[3.0, 5.0])).collect(),
        ceiling_height_m: (0..ns).map(|_| rng.pick(&[3.0, 6.0])).collect(),
        power_kva: (0..ns).map(|_| rng.pick(&[10.0, 100.0])).collect(),
        rent_cny_per_m2_month: (0..ns).map(|_| rng.pick(&[10.0, 20.0, 30.0])).collect(),
        hazardous_permit: (0..ns).map(|_| rng.below(2) == 0).collect(),
        available_from_day: (0..ns).map(|_| rng.pick(&[0, 5, 10])).collect(),
        kind: (0..ns).map(|_| rng.below(3) as u8).collect(),
    };
    let ne = rng.below(25);
    let area_min: Vec<f64> = (0..ne)
        .map(|_| rng.pick(&[0.0, 0.0, 50.0, 100.0]))
        .collect();
    let enterprises = Enterprises {
        area_max_m2: area_min
            .iter()
            .map(|&a| a + rng.pick(&[0.0, 50.0, 150.0]))
            .collect(),
        area_min_m2: area_min,
        min_floor_load_kn_m2: (0..ne).map(|_| rng.pick(&[0.0, 4.0])).collect(),
        min_ceiling_height_m: (0..ne).map(|_| rng.pick(&[0.0, 4.0])).collect(),
        power_need_kva: (0..ne).map(|_| rng.pick(&[0.0, 50.0])).collect(),
        max_rent_cny_per_m2_month: (0..ne).map(|_| rng.pick(&[0.0, 20.0, 40.0])).collect(),
        lat: (0..ne).map(|_| 30.0 + 0.2 * rng.unit()).collect(),
        lon: (0..ne).map(|_| 120.0 + 0.2 * rng.unit()).collect(),
        radius_km: (0..ne)
            .map(|_| rng.pick(&[0.5, 5.0, 12.0, 30.0, f64::INFINITY]))
            .collect(),
        hazardous_process: (0..ne).map(|_| rng.below(4) == 0).collect(),
        division: (0..ne).map(|_| rng.below(4) as u8).collect(),
        kinds_mask: (0..ne).map(|_| rng.pick(&[0xff, 0b001, 0b110])).collect(),
        chain_mask: (0..ne).map(|_| [rng.next() & 0b11_1111, 0]).collect(),
        annual_co2e_t: (0..ne).map(|_| rng.pick(&[0.0, 10.0, 60.0])).collect(),
    };
    let affinity = if rng.below(2) == 0 {
        Vec::new()
    } else {
        (0..N_DIVISIONS * N_DIVISIONS)
            .map(|_| rng.pick(&[0.0, 0.5, 1.0]))
            .collect()
    };
    match CandidateIndex::new(parks, spaces, enterprises, affinity) {
        Ok(ix) => ix,
        Err(err) => panic!("random instance rejected: {err}"),
    }
}

/// The first hard constraint `(e, s)` fails, checking every constraint directly.
fn first_failure(ix: &CandidateIndex, e: usize, s: usize, now_day: i32) -> Reason {
    let (en, sp) = (&ix.enterprises, &ix.spaces);
    let p = sp.park[s] as usize;
    if ix.distance_km(e, p) > en.radius_km[e] {
        Reason::NoParkInRadius
    } else if sp.area_m2[s] < en.area_min_m2[e] || sp.area_m2[s] > en.area_max_m2[e] {
        Reason::Area
    } else if sp.floor_load_kn_m2[s] < en.min_floor_load_kn_m2[e] {
        Reason::FloorLoad
    } else if sp.ceiling_height_m[s] < en.min_ceiling_height_m[e] {
        Reason::CeilingHeight
    } else if sp.power_kva[s] < en.power_need_kva[e] {
        Reason::Power
    } else if sp.rent_cny_per_m2_month[s] > en.max_rent_cny_per_m2_month[e] {
        Reason::Rent
    } else if en.hazardous_process[e] && !sp.hazardous_permit[s] {
        Reason::HazardousPermit
    } else if !mask_has(&ix.parks.industry_mask[p], en.division[e]) {
        Reason::IndustryNotPermitted
    } else if (en.kinds_mask[e] >> sp.kind[s]) & 1 == 0 {
        Reason::SpaceKind
    } else if sp.available_from_day[s] > now_day {
        Reason::NotAvailableYet
    } else {
        Reason::HasCandidates
    }
}

/// Every pair checked, scored with the reference formula, sorted, cut to `k`.
fn brute_force(
    ix: &CandidateIndex,
    w: &Weights,
    k: usize,
    now_day: i32,
    space_active: &[bool],
    enterprise_active: &[bool],
) -> Candidates {
    let mut out = Candidates {
        indptr: vec![0],
        ..Candidates::default()
    };
    for (e, &active) in enterprise_active.iter().enumerate() {
        let mut cands: Vec<(i64, u32, f64)> = Vec::new();
        let mut worst = Reason::HasCandidates;
        let any_park =
            (0..ix.parks.lat.len()).any(|p| ix.distance_km(e, p) <= ix.enterprises.radius_km[e]);
        let mut any_space = false;
        for s in (0..ix.n_spaces()).filter(|&s| space_active[s]) {
            let p = ix.spaces.park[s] as usize;
            match first_failure(ix, e, s, now_day) {
                Reason::NoParkInRadius => {}
                Reason::HasCandidates => {
                    let d = ix.distance_km(e, p);
                    let chain = ix.chain(e, p);
                    let c = ix.components(e, s, d, chain, ix.carbon(e, p));
                    cands.push((w.score(&c), s as u32, chain));
                }
                f => {
                    any_space = true;
                    worst = worst.max(f);
                }
            }
        }
        let reason = if !active {
            cands.clear();
            Reason::Excluded
        } else if !cands.is_empty() {
            Reason::HasCandidates
        } else if !any_park {
            Reason::NoParkInRadius
        } else if !any_space {
            Reason::NoSpaceInRadius
        } else {
            worst
        };
        out.n_feasible.push(cands.len() as i64);
        cands.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        cands.truncate(if k == 0 { usize::MAX } else { k });
        out.indptr.push(out.indptr[e] + cands.len() as i64);
        out.cols.extend(cands.iter().map(|c| i64::from(c.1)));
        out.scores.extend(cands.iter().map(|c| c.0));
        out.chain.extend(cands.iter().map(|c| c.2));
        out.reason.push(reason as u8);
    }
    out
}

#[test]
fn generate_equals_brute_force_on_random_instances() {
    let mut rng = Rng(2026);
    let weight_sets = [
        Weights([1.0; 5]),
        Weights([0.0, 0.0, 0.0, 0.0, 1.0]),
        Weights([0.0, 1.0, 0.0, 0.0, 0.0]),
        Weights([0.3, 0.0, 2.5, 0.7, 0.11]),
    ];
    let mut compared = 0;
    for _ in 0..400 {
        let ix = instance(&mut rng);
        let space_active: Vec<bool> = (0..ix.n_spaces()).map(|_| rng.below(5) != 0).collect();
        let ent_active: Vec<bool> = (0..ix.n_enterprises()).map(|_| rng.below(8) != 0).collect();
        let w = rng.pick(&weight_sets);
        let now_day = rng.pick(&[0, 7, 20]);
        for k in [1, 2, 3, 5, 0] {
            let got = generate(&ix, &w, k, now_day, Some(&space_active), Some(&ent_active));
            let want = brute_force(&ix, &w, k, now_day, &space_active, &ent_active);
            assert_eq!(got.ok(), Some(want), "k = {k}");
            compared += 1;
        }
    }
    assert_eq!(compared, 2000);
}

#[test]
fn round_nonneg_equals_f64_round() {
    let mut rng = Rng(5);
    let edges = [
        0.0,
        0.5,
        1.5,
        2.5,
        0.499_999_999_999_999_94,
        999_999.5,
        1_000_000.0,
        4_503_599_627_370_495.5,
    ];
    for x in edges
        .into_iter()
        .chain((0..100_000).map(|_| rng.unit() * 1e6))
    {
        assert_eq!(round_nonneg(x), x.round() as i64, "{x}");
    }
}

/// The chord pre-filter never drops a park exactly at the radius (the haversine decides).
#[test]
fn chord_prefilter_keeps_every_park_on_the_boundary() {
    let mut rng = Rng(17);
    for _ in 0..2000 {
        let mut ix = instance(&mut rng);
        if ix.parks.lat.is_empty() || ix.n_enterprises() == 0 {
            continue;
        }
        // Spread the points from metres to thousands of km apart.
        let scale = rng.pick(&[1e-5, 1e-2, 1.0, 40.0]);
        for p in 0..ix.parks.lat.len() {
            ix.parks.lat[p] = 30.0 + scale * (rng.unit() - 0.5);
            ix.parks.lon[p] = 120.0 + scale * (rng.unit() - 0.5);
        }
        let trig = ParkTrig::new(&ix);
        for e in 0..ix.n_enterprises() {
            for p in 0..ix.parks.lat.len() {
                let d = ix.distance_km(e, p);
                if d <= 0.0 {
                    continue;
                }
                ix.enterprises.radius_km[e] = d;
                let parts = EnterpriseParts::new(&ix, &Weights([1.0; 5]), e);
                assert!(parts.chord_may_reach(&trig, p), "e {e}, p {p}, d {d}");
            }
        }
    }
}
