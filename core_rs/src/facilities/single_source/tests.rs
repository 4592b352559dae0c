//! The search against enumeration on small instances, determinism, input checks.

use super::*;

fn opts(iters: u64) -> SearchOptions {
    SearchOptions {
        time_limit: Duration::from_secs(30),
        max_iterations: iters,
        stall_iterations: 50,
        seed: 7,
        stop_at_cost: f64::NEG_INFINITY,
    }
}

/// Every plan by enumeration (m^n): the optimum of a tiny instance.
fn brute(inst: &Instance<'_>) -> Option<f64> {
    let (m, n) = (inst.m, inst.n);
    let mut a = vec![0usize; n];
    let mut best: Option<f64> = None;
    loop {
        let finite = a.iter().enumerate().all(|(j, &i)| inst.c(j, i).is_finite());
        if finite {
            let (c, over) = inst.evaluate(&a);
            if over <= 1e-9 && best.is_none_or(|b| c < b) {
                best = Some(c);
            }
        }
        let mut k = 0;
        loop {
            if k == n {
                return best;
            }
            a[k] += 1;
            if a[k] < m {
                break;
            }
            a[k] = 0;
            k += 1;
        }
    }
}

fn random_instance(seed: u64, m: usize, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut r = |k: u32| f64::from(rng.next_u32() % k);
    let demand: Vec<f64> = (0..n).map(|_| 1.0 + r(9)).collect();
    let total: f64 = demand.iter().sum();
    let capacity: Vec<f64> = (0..m).map(|_| (total / 2.0).ceil() + r(5)).collect();
    let fixed: Vec<f64> = (0..m).map(|_| 10.0 + r(40)).collect();
    let cost: Vec<f64> = (0..m * n)
        .map(|_| if r(10) == 0.0 { f64::INFINITY } else { r(30) })
        .collect();
    (cost, demand, capacity, fixed)
}

#[test]
fn finds_the_optimum_of_small_instances() {
    let mut solved = 0;
    for seed in 0..40 {
        let (cost, demand, capacity, fixed) = random_instance(seed, 4, 7);
        let inst = Instance::new(&cost, &demand, &capacity, &fixed).unwrap();
        let Some(opt) = brute(&inst) else { continue };
        // Any site per customer with an allowed arc, overloads allowed.
        let start: Vec<i64> = (0..7)
            .map(|j| {
                (0..4)
                    .find(|&i| inst.c(j, i).is_finite())
                    .map_or(0, |i| i as i64)
            })
            .collect();
        if start
            .iter()
            .enumerate()
            .any(|(j, &i)| !inst.c(j, i as usize).is_finite())
        {
            continue;
        }
        let plan = improve(&inst, &start, &opts(3000))
            .unwrap()
            .expect("a feasible plan");
        let (c, over) = inst.evaluate(&plan.assign);
        assert!(over <= 1e-9, "seed {seed}: plan overloads by {over}");
        assert!(
            (c - plan.cost).abs() < 1e-9,
            "seed {seed}: reported {} != {c}",
            plan.cost
        );
        assert!((c - opt).abs() < 1e-9, "seed {seed}: {c} vs optimum {opt}");
        solved += 1;
    }
    assert!(solved >= 20, "only {solved} feasible instances");
}

#[test]
fn same_seed_same_plan() {
    let (cost, demand, capacity, fixed) = random_instance(3, 6, 30);
    let inst = Instance::new(&cost, &demand, &capacity, &fixed).unwrap();
    let start: Vec<i64> = (0..30)
        .map(|j| (0..6).find(|&i| inst.c(j, i).is_finite()).unwrap() as i64)
        .collect();
    let a = improve(&inst, &start, &opts(500)).unwrap();
    let b = improve(&inst, &start, &opts(500)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn refuses_bad_input_naming_the_field() {
    let demand = [1.0, f64::NAN];
    let capacity = [5.0];
    let fixed = [1.0];
    let cost = [1.0, 2.0];
    let e = Instance::new(&cost, &demand, &capacity, &fixed)
        .err()
        .unwrap();
    assert!(e.to_string().contains("demand (row 1)"), "{e}");
    let demand = [1.0, 1.0];
    let inst = Instance::new(&[1.0, f64::INFINITY], &demand, &capacity, &fixed).unwrap();
    let e = improve(&inst, &[0, 0], &opts(10)).err().unwrap();
    assert!(e.to_string().contains("start (row 1)"), "{e}");
    let e = improve(&inst, &[0], &opts(10)).err().unwrap();
    assert!(e.to_string().contains("start"), "{e}");
    let e = Instance::new(&[1.0], &demand, &capacity, &fixed)
        .err()
        .unwrap();
    assert!(e.to_string().contains("cost"), "{e}");
}

#[test]
fn infeasible_start_reaches_feasibility() {
    // Everyone starts on site 0 (capacity 3); sites 1 and 2 must open.
    let demand = [2.0, 2.0, 2.0, 2.0];
    let capacity = [3.0, 4.0, 4.0];
    let fixed = [5.0, 5.0, 5.0];
    let cost = [1.0; 12];
    let inst = Instance::new(&cost, &demand, &capacity, &fixed).unwrap();
    let plan = improve(&inst, &[0, 0, 0, 0], &opts(200)).unwrap().unwrap();
    let (c, over) = inst.evaluate(&plan.assign);
    assert_eq!(over, 0.0);
    assert_eq!(c, brute(&inst).unwrap());
}

/// The plan's cost with each unit of overload priced at the search's current penalty.
fn penalised(s: &Search<'_, '_>) -> f64 {
    s.inst.evaluate(&s.st.a).0 + s.penalty * s.total_excess()
}

#[test]
fn location_moves_report_their_true_change() {
    // Close, open and swap plans on random plans (some overloaded): the change each
    // reports is the change of the penalised cost once its moves are applied.
    let mut checked = [0usize; 3];
    for seed in 0..80 {
        let (m, n) = (6, 30);
        let (cost, demand, capacity, fixed) = random_instance(seed, m, n);
        let inst = Instance::new(&cost, &demand, &capacity, &fixed).unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(seed + 100);
        let sites: Vec<usize> = (0..m).filter(|_| rng.next_u32() % 2 == 0).collect();
        let start: Option<Vec<usize>> = (0..n)
            .map(|j| sites.iter().copied().find(|&i| inst.c(j, i).is_finite()))
            .collect();
        let Some(start) = start else { continue };
        let base = Search::new(&inst, start, seed);
        let before = penalised(&base);
        let open: Vec<usize> = (0..m).filter(|&i| base.st.count[i] > 0).collect();
        let closed: Vec<usize> = (0..m).filter(|&i| base.st.count[i] == 0).collect();
        let mut plans = Vec::new();
        for &i in &open {
            plans.push((0, base.plan_close(i)));
            for &k in &closed {
                plans.push((2, base.plan_swap(i, k)));
            }
        }
        for &k in &closed {
            plans.push((1, base.plan_open(k)));
        }
        for (kind, plan) in plans {
            let Some((delta, moves)) = plan else { continue };
            let mut after = Search::new(&inst, base.st.a.clone(), seed);
            for (j, b) in moves {
                after.relocate(j, b);
            }
            let change = penalised(&after) - before;
            assert!(
                (change - delta).abs() < 1e-6 * before.abs().max(1.0),
                "seed {seed} kind {kind}: reported {delta}, actual {change}"
            );
            checked[kind] += 1;
        }
    }
    assert!(checked.iter().all(|&k| k > 20), "checked {checked:?}");
}
