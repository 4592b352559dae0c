//! Tests of [`super`]: exact Shapley values against brute force, conservation of grams, sampling error.
#![allow(clippy::needless_range_loop)]

use super::*;
use proptest::prelude::*;

/// Brute force over all coalitions: sum_S w(|S|) [v(S+i) - v(S)].
fn brute_force(curve: &Curve, loads: &[f64]) -> Vec<f64> {
    let n = loads.len();
    let w = shapley_weights(n);
    let v = |mask: usize| {
        if mask == 0 {
            return 0.0;
        }
        let load: f64 = (0..n)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| loads[i])
            .sum();
        curve.eval(load)
    };
    (0..n)
        .map(|i| {
            (0..1_usize << n)
                .filter(|m| m >> i & 1 == 0)
                .map(|m| w[m.count_ones() as usize] * (v(m | 1 << i) - v(m)))
                .sum()
        })
        .collect()
}

fn boiler() -> Curve {
    // 100 t standby + 0.2 t/unit, a 50 t step above 500 units (a 1e-6 wide ramp).
    Curve::new(
        &[0.0, 500.0, 500.000_001, 10_000.0],
        &[100.0, 200.0, 250.0, 250.0 + 0.2 * 9_499.999_999],
    )
    .unwrap()
}

/// With no hours, `use` bounds nothing: a huge tenant count is refused by the budget,
/// not a capacity overflow (a fuzzing find).
#[test]
fn tenants_without_hours_still_fit_the_budget() {
    let options = ShapleyOptions {
        exact: Some(true),
        samples: None,
        seed: 0,
    };
    let e = shapley_allocation(&[], 1 << 60, 0, &[0.0, 1.0], &[0.0, 1.0], options).unwrap_err();
    assert!(matches!(e, CoreError::ResourceExhausted { .. }), "{e}");
}

/// With no tenants `use` is empty whatever `hours` says; hours past the limit are an
/// error naming them, not a capacity overflow (a fuzzing find).
#[test]
fn hours_without_tenants_are_bounded() {
    let options = ShapleyOptions {
        exact: None,
        samples: None,
        seed: 0,
    };
    let e = shapley_allocation(&[], 0, usize::MAX, &[0.0, 1.0], &[0.0, 1.0], options).unwrap_err();
    assert!(
        matches!(&e, CoreError::InvalidInput(v) if v[0].field == "hours"),
        "{e}"
    );
    let r = shapley_allocation(&[], 0, 48, &[0.0, 1.0], &[2.0, 3.0], options).unwrap();
    assert_eq!((r.total_g, r.unallocated_g), (96, 96));
}

/// Values whose grams do not fit 64 bits are an error, not an overflow (a fuzzing
/// find); sums past 2^63 of values that each fit are exact (128-bit arithmetic).
#[test]
fn rounding_beyond_64_bits_is_an_error() {
    assert!(round_to_total(&[1e19, -1e19], 0).is_err());
    assert!(round_to_total(&[f64::NAN], 0).is_err());
    let big = 4e18;
    let r = round_to_total(&[big, big, big], i64::MAX).unwrap();
    assert_eq!(
        r.iter().map(|&g| i128::from(g)).sum::<i128>(),
        i128::from(i64::MAX)
    );
}

/// Emission points so large that the hours' grams pass 2^63 are an error naming
/// them, not an overflow (a fuzzing find).
#[test]
fn totals_past_64_bits_are_an_error() {
    let options = ShapleyOptions {
        exact: Some(true),
        samples: None,
        seed: 0,
    };
    let e =
        shapley_allocation(&[1.0, 1.0], 1, 2, &[0.0, 2.0], &[0.0, 1.0e19], options).unwrap_err();
    assert!(e.to_string().contains("emission_points"), "{e}");
}

#[test]
fn reference_toy_example_by_hand() {
    // carbon.md 2.3: A 300, B 200, C 100 units; Shapley A 110, B 90, C 70 (t).
    let phi = exact_hour(&boiler(), &[300.0, 200.0, 100.0]);
    for (p, want) in phi.iter().zip([110.0, 90.0, 70.0]) {
        assert!((p - want).abs() < 1e-6, "{phi:?}");
    }
}

#[test]
fn linear_curve_gives_pro_rata_plus_equal_standby() {
    let curve = Curve::new(&[0.0, 100.0], &[10.0, 210.0]).unwrap();
    let phi = exact_hour(&curve, &[10.0, 30.0, 60.0]);
    for (p, want) in phi
        .iter()
        .zip([10.0 / 3.0 + 20.0, 10.0 / 3.0 + 60.0, 10.0 / 3.0 + 120.0])
    {
        assert!((p - want).abs() < 1e-9, "{phi:?}");
    }
}

fn game() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..10, 2usize..6).prop_flat_map(|(n, k)| {
        (
            proptest::collection::vec(prop_oneof![0.0..50.0, (1u32..20).prop_map(f64::from)], n),
            proptest::collection::vec(1.0..100.0, k - 1),
            proptest::collection::vec(0.0..1000.0, k),
        )
    })
}

fn curve_for(loads: &[f64], gaps: &[f64], ys: &[f64]) -> Curve {
    let total: f64 = loads.iter().sum();
    let mut xs = vec![0.0];
    for g in gaps {
        xs.push(xs[xs.len() - 1] + g);
    }
    let scale = (total / xs[xs.len() - 1]).max(1.0) * 1.01;
    let xs: Vec<f64> = xs.iter().map(|x| x * scale).collect();
    Curve::new(&xs, ys).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn exact_equals_brute_force_and_is_efficient((loads, gaps, ys) in game()) {
        let curve = curve_for(&loads, &gaps, &ys);
        let fast = exact_hour(&curve, &loads);
        let slow = brute_force(&curve, &loads);
        let scale = ys.iter().fold(1.0_f64, |m, y| m.max(y.abs()));
        for (a, b) in fast.iter().zip(&slow) {
            prop_assert!((a - b).abs() < 1e-9 * scale, "{:?} vs {:?}", fast, slow);
        }
        let total: f64 = loads.iter().sum();
        let sum: f64 = fast.iter().sum();
        prop_assert!((sum - curve.eval(total)).abs() < 1e-9 * scale);
    }

    #[test]
    fn symmetric_players_get_equal_values((loads, gaps, ys) in game()) {
        let mut loads = loads;
        loads.push(loads[0]);
        let curve = curve_for(&loads, &gaps, &ys);
        let phi = exact_hour(&curve, &loads);
        let scale = ys.iter().fold(1.0_f64, |m, y| m.max(y.abs()));
        prop_assert!((phi[0] - phi[loads.len() - 1]).abs() < 1e-9 * scale);
    }

    #[test]
    fn conserves_grams_and_null_players_get_zero(
        (loads, gaps, ys) in game(), hours in 1usize..5, exact in any::<bool>(), seed in any::<u64>(),
    ) {
        let n = loads.len() + 1; // the last tenant never draws anything
        let mut use_ = vec![0.0; n * hours];
        for h in 0..hours {
            for (i, u) in loads.iter().enumerate() {
                use_[i * hours + h] = if (i + h) % 3 == 0 { 0.0 } else { *u };
            }
        }
        let curve = curve_for(&loads, &gaps, &ys);
        let xs = curve.xs.clone();
        let emissions: Vec<f64> = xs.iter().map(|&x| curve.eval(x)).collect();
        let options = ShapleyOptions { exact: Some(exact), samples: Some(8), seed };
        let r = shapley_allocation(&use_, n, hours, &xs, &emissions, options).unwrap();
        prop_assert_eq!(r.co2e_g.iter().sum::<i64>() + r.unallocated_g, r.total_g);
        prop_assert_eq!(r.co2e_g[n - 1], 0);
        prop_assert_eq!(r.value_g[n - 1], 0.0);
        let mut expect_total = 0;
        let mut expect_pool = 0;
        for h in 0..hours {
            let load: f64 = (0..n).map(|i| use_[i * hours + h]).sum();
            let g = curve.eval(load).round() as i64;
            expect_total += g;
            if load == 0.0 { expect_pool += g; }
        }
        prop_assert_eq!(r.total_g, expect_total);
        prop_assert_eq!(r.unallocated_g, expect_pool);
        // Rounding spreads the hourly roundings of the totals evenly over the tenants
        // present, then moves single grams: within one gram of that.
        let present: Vec<usize> = (0..n).filter(|&i| (0..hours).any(|h| use_[i * hours + h] > 0.0)).collect();
        let values: f64 = present.iter().map(|&i| r.value_g[i]).sum();
        let shift = ((r.total_g - r.unallocated_g) as f64 - values) / present.len().max(1) as f64;
        for &i in &present {
            let v = r.value_g[i] + shift;
            prop_assert!((r.co2e_g[i] as f64 - v).abs() <= 1.0 + 1e-6 * v.abs());
        }
    }

    #[test]
    fn round_to_total_is_exact(values in proptest::collection::vec(-1e6..1e6, 1..30), jitter in -50i64..50) {
        let total = values.iter().sum::<f64>().round() as i64 + jitter;
        let r = round_to_total(&values, total).unwrap();
        prop_assert_eq!(r.iter().sum::<i64>(), total);
        let shift = (total as f64 - values.iter().sum::<f64>()) / values.len() as f64;
        for (g, v) in r.iter().zip(&values) {
            prop_assert!((*g as f64 - (v + shift)).abs() < 1.0 + 1e-6);
        }
    }
}

#[test]
fn sampled_is_within_a_few_standard_errors_of_exact() {
    let n = 12;
    let hours = 200;
    let use_: Vec<f64> = (0..n * hours).map(|k| ((k * 7919) % 23) as f64).collect();
    let xs = [0.0, 400.0, 900.0, 3000.0];
    let ys = [50.0, 300.0, 1500.0, 2000.0];
    let exact = shapley_allocation(
        &use_,
        n,
        hours,
        &xs,
        &ys,
        ShapleyOptions {
            exact: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let sampled = shapley_allocation(
        &use_,
        n,
        hours,
        &xs,
        &ys,
        ShapleyOptions {
            exact: Some(false),
            samples: Some(16),
            seed: 7,
        },
    )
    .unwrap();
    assert!(exact.exact && !sampled.exact && sampled.samples == 16);
    for i in 0..n {
        let z = (sampled.value_g[i] - exact.value_g[i]) / sampled.se_g[i];
        assert!(z.abs() < 5.0, "tenant {i}: z = {z}");
        assert!(sampled.se_g[i] > 0.0);
    }
    assert_eq!(exact.total_g, sampled.total_g);
    // Same seed, same result; thread count never matters (fixed blocks and streams).
    let again = shapley_allocation(
        &use_,
        n,
        hours,
        &xs,
        &ys,
        ShapleyOptions {
            exact: Some(false),
            samples: Some(16),
            seed: 7,
        },
    )
    .unwrap();
    assert_eq!(again, sampled);
}

#[test]
fn additivity_over_hours() {
    let n = 5;
    let hours = 3;
    let use_: Vec<f64> = (0..n * hours).map(|k| (k % 4) as f64 + 0.5).collect();
    let (xs, ys) = ([0.0, 10.0, 40.0], [5.0, 15.0, 100.0]);
    let all = shapley_allocation(&use_, n, hours, &xs, &ys, ShapleyOptions::default()).unwrap();
    let mut summed = vec![0.0; n];
    for h in 0..hours {
        let one: Vec<f64> = (0..n).map(|i| use_[i * hours + h]).collect();
        let r = shapley_allocation(&one, n, 1, &xs, &ys, ShapleyOptions::default()).unwrap();
        for i in 0..n {
            summed[i] += r.value_g[i];
        }
    }
    for i in 0..n {
        assert!((summed[i] - all.value_g[i]).abs() < 1e-9);
    }
}

#[test]
fn bad_input_names_field_and_row() {
    let ok = ShapleyOptions::default();
    let e = shapley_allocation(&[1.0, -1.0], 2, 1, &[0.0, 10.0], &[0.0, 1.0], ok).unwrap_err();
    assert_eq!(
        e,
        CoreError::invalid(
            "use",
            Some(1),
            "hour 0: load -1 must be finite and non-negative"
        )
    );
    let e = shapley_allocation(&[1.0], 1, 1, &[0.0, 0.0], &[0.0, 1.0], ok).unwrap_err();
    assert!(e.to_string().contains("load_points (row 1)"), "{e}");
    let e = shapley_allocation(&[1.0], 1, 1, &[1.0, 2.0], &[0.0, 1.0], ok).unwrap_err();
    assert!(e.to_string().contains("load_points (row 0)"), "{e}");
    let e = shapley_allocation(&[1.0], 1, 1, &[0.0, 2.0], &[0.0, -1.0], ok).unwrap_err();
    assert!(e.to_string().contains("emission_points (row 1)"), "{e}");
    let e = shapley_allocation(&[1.0], 1, 1, &[0.0, 2.0], &[0.0], ok).unwrap_err();
    assert!(e.to_string().contains("emission_points"), "{e}");
    let e = shapley_allocation(&[5.0], 1, 1, &[0.0, 2.0], &[0.0, 1.0], ok).unwrap_err();
    assert!(e.to_string().contains("exceeds the last load point"), "{e}");
    let e = shapley_allocation(&[1.0; 3], 2, 1, &[0.0, 2.0], &[0.0, 1.0], ok).unwrap_err();
    assert!(e.to_string().contains("expected n x hours = 2 x 1"), "{e}");
    let big = ShapleyOptions {
        exact: Some(true),
        ..ok
    };
    let e = shapley_allocation(&[0.0; 25], 25, 1, &[0.0, 2.0], &[0.0, 1.0], big).unwrap_err();
    assert!(e.to_string().contains("exact"), "{e}");
    let odd = ShapleyOptions {
        exact: Some(false),
        samples: Some(5),
        seed: 0,
    };
    let e = shapley_allocation(&[1.0], 1, 1, &[0.0, 2.0], &[0.0, 1.0], odd).unwrap_err();
    assert!(e.to_string().contains("samples"), "{e}");
    let unbounded = ShapleyOptions {
        exact: Some(false),
        samples: Some(1_000_000_000_000),
        seed: 0,
    };
    let e = shapley_allocation(&[1.0], 1, 1, &[0.0, 2.0], &[0.0, 1.0], unbounded).unwrap_err();
    assert!(e.to_string().contains("samples"), "{e}");
}
