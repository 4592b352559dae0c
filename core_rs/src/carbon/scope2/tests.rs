//! Tests of [`super`]: exact conservation and the rules against plain re-computations.
#![allow(clippy::needless_range_loop)]

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
        detail: true,
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
        CoreError::invalid(
            "load_wh",
            Some(1),
            format!("hour 0: -3 must be in [0, {MAX_WH}]")
        )
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
    with_cert: bool,
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
            any::<bool>(),
        )
            .prop_map(
                move |(load, pv, cert, gen, share, extra_loss, mut pv_parts, order, with_cert)| {
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
                        with_cert,
                    }
                },
            )
    })
}

fn run(c: &Case, sharing: PvSharing<'_>, gate: &[i64], policy: LossPolicy) -> Scope2 {
    let mut input = base(c.n, c.hours, &c.load, &c.pv);
    input.pv_sharing = sharing;
    input.certificate_wh = c.with_cert.then_some(c.cert.as_slice());
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
            let certs = if c.with_cert { col(&c.cert) } else { 0 };
            prop_assert_eq!(r.green_wh[h], certs + contracts);
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
        let mut c = c;
        c.with_cert = true;
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

proptest! {
    #[test]
    fn grams_is_the_exact_rounding(e in prop_oneof![0i64..10_000, 0i64..=MAX_WH], ug in prop_oneof![0i64..1000, 0i64..=MAX_FACTOR_UG_PER_WH]) {
        let exact = (i128::from(e) * i128::from(ug) + 500_000) / 1_000_000;
        prop_assert_eq!(i128::from(grams(e, ug)), exact);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Without detail (pro rata, no certificates, landlord losses) the engine takes its
    /// vectorised path; every figure equals the detailed run's, in either width.
    #[test]
    fn lean_and_compact_runs_equal_the_detailed_run(c in case(), with_gate in any::<bool>()) {
        let gate: Vec<i64> = (0..c.hours)
            .map(|h| (0..c.n).map(|i| c.load[i * c.hours + h]).sum::<i64>() + c.extra_loss[h])
            .collect();
        let mut input = base(c.n, c.hours, &c.load, &c.pv);
        input.contract_wh = &c.gen;
        input.contract_share = &c.share;
        input.gate_import_wh = with_gate.then_some(gate.as_slice());
        let detailed = scope2(&input).unwrap();
        input.detail = false;
        let lean = scope2(&input).unwrap();
        prop_assert_eq!(&lean.location_g, &detailed.location_g);
        prop_assert_eq!(&lean.market_g, &detailed.market_g);
        prop_assert!(lean.pv_wh.is_empty() && lean.matched_wh.is_empty());
        let hourly = |r: &Scope2| {
            (r.export_wh.clone(), r.green_wh.clone(), r.excess_wh.clone(), r.loss_wh.clone(),
             r.landlord_location_g.clone(), r.landlord_market_g.clone(), r.tenants.clone())
        };
        prop_assert_eq!(hourly(&lean), hourly(&detailed));
        let Scope2Cells::Narrow(narrow) = scope2_compact(&input).unwrap() else {
            return Err(TestCaseError::fail("small loads give i32 results"));
        };
        let widen = |v: &[i32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>();
        prop_assert_eq!(widen(&narrow.location_g), lean.location_g);
        prop_assert_eq!(widen(&narrow.market_g), lean.market_g);
        prop_assert_eq!(narrow.tenants, lean.tenants);
    }
}

#[test]
fn compact_results_widen_when_a_value_would_not_fit() {
    // 2^31 Wh in one tenant-hour does not fit in i32: the results stay i64.
    let big = 1_i64 << 31;
    let (load, pv) = ([big, 5], [0]);
    let Scope2Cells::Wide(r) = scope2_compact(&base(2, 1, &load, &pv)).unwrap() else {
        panic!("2^31 Wh must give i64 results");
    };
    assert_eq!(r.location_g, vec![grams(big, 550_000), grams(5, 550_000)]);
    // Just below, at factors whose grams still fit, they are i32.
    let (load, pv) = ([big - 1, 5], [0]);
    let mut input = base(2, 1, &load, &pv);
    input.location_ug_per_wh = 1_000_000;
    input.residual_ug_per_wh = 1_000_000;
    let Scope2Cells::Narrow(r) = scope2_compact(&input).unwrap() else {
        panic!("2^31 - 1 Wh at 1 g/Wh fits in i32");
    };
    assert_eq!(r.location_g, vec![i32::MAX, 5]);
    // Grossed-up losses count: a gate reading whose loss grams exceed i32 widens.
    let (load, pv, gate) = ([10, 5], [0], [1_i64 << 40]);
    let mut input = base(2, 1, &load, &pv);
    input.gate_import_wh = Some(&gate);
    assert!(matches!(
        scope2_compact(&input).unwrap(),
        Scope2Cells::Narrow(_)
    ));
    input.loss_policy = LossPolicy::GrossUp;
    let Scope2Cells::Wide(r) = scope2_compact(&input).unwrap() else {
        panic!("loss grams above 2^31 must give i64 results");
    };
    assert_eq!(
        r.loss_location_g.iter().sum::<i64>(),
        grams((1 << 40) - 15, 550_000)
    );
}

#[test]
fn no_tenants_or_hours() {
    let r = scope2(&base(0, 3, &[], &[5, 0, 1])).unwrap();
    assert_eq!(r.export_wh, vec![5, 0, 1]);
    let r = scope2(&base(3, 0, &[], &[])).unwrap();
    assert_eq!(r.tenants.load_wh, vec![0, 0, 0]);
}
