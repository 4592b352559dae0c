//! Tests of [`super`]: the split is the pro-rata allocation, quotas are exact, and the
//! vectorised loops compute the portable ones' integers.

use super::*;
use crate::carbon::allocate_pro_rata;
use crate::carbon::scope2::MAX_WH;
use proptest::prelude::*;

#[test]
fn split_by_hand() {
    // 10 g over 1:1:1 -> 4, 3, 3 (ties to the lower position); 7 over 0:0:5 -> 0, 0, 7.
    assert_eq!(split_all(10, &[1, 1, 1]), vec![4, 3, 3]);
    assert_eq!(split_all(7, &[0, 0, 5]), vec![0, 0, 7]);
    assert_eq!(split_all(0, &[2, 3]), vec![0, 0]);
    // 5 over 1:2:1:2: floors 0, 1, 0, 1; remainders 5, 4, 5, 4 (of 6) -> 1, 2, 1, 1.
    assert_eq!(split_all(5, &[1, 2, 1, 2]), vec![1, 2, 1, 1]);
}

proptest! {
    #[test]
    fn split_is_the_pro_rata_allocation(
        weights in proptest::collection::vec(prop_oneof![Just(0i64), 0i64..1000, 0i64..(1 << 40)], 1..40),
        total in 0i64..=MAX_WH,
    ) {
        let mut weights = weights;
        weights[0] += 1;
        let use_: Vec<f64> = weights.iter().map(|&w| w as f64).collect();
        let n = weights.len();
        let expect = allocate_pro_rata(&[total], &use_, n).unwrap();
        // allocate_pro_rata quantises to min(52, 61 - bitlen(n)) bits: exact below that.
        prop_assert_eq!(split_all(total, &weights), expect.alloc_g);
    }
}

proptest! {
    #[test]
    fn quota_is_exact(t in 0i64..(1 << 44), s in 1i64..(1 << 61), frac in 0.0f64..=1.0) {
        let w = ((s as f64 * frac) as i64).clamp(0, s).min(MAX_WH);
        let split = Split { total: t, sum: s, ratio: t as f64 / s as f64, threshold: i64::MAX, cut: 0 };
        let (q, r) = split.quota(w);
        let num = i128::from(t) * i128::from(w);
        prop_assert_eq!(i128::from(q), num / i128::from(s));
        prop_assert_eq!(i128::from(r), num % i128::from(s));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]
    #[test]
    fn split_with_many_ties_is_the_pro_rata_allocation(
        weights in proptest::collection::vec(prop_oneof![0i64..4, 0i64..1_000_000], 1..3000),
        total in prop_oneof![0i64..10_000, 0i64..=MAX_WH],
    ) {
        let mut weights = weights;
        weights[0] += 1;
        let use_: Vec<f64> = weights.iter().map(|&w| w as f64).collect();
        let expect = allocate_pro_rata(&[total], &use_, weights.len()).unwrap();
        prop_assert_eq!(split_all(total, &weights), expect.alloc_g);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The vectorised loops compute the same integers as the portable ones.
    #[test]
    fn simd_loops_equal_the_portable_ones(
        load in proptest::collection::vec(prop_oneof![0i64..5_000, 0i64..=MAX_WH], 1..300),
        green in proptest::collection::vec(prop_oneof![0i64..5_000, 0i64..=MAX_WH], 300),
        totals in proptest::collection::vec(prop_oneof![Just(0i64), 0i64..=MAX_WH], 300),
        i in 0i64..40,
    ) {
        let len = load.len();
        let mut scratch = SplitScratch::default();
        let splits: Vec<Split> = (0..len)
            .map(|j| {
                let column: Vec<i64> = (0..40).map(|k| (load[j] + 7 * k) % 1000 + k).collect();
                let sum = column.iter().sum();
                Split::new(totals[j].min(sum), &column, sum, &mut scratch)
            })
            .collect();
        let columns = simd::SplitColumns::new(splits.iter());
        let pv = columns.slice(0, len);
        let run = |wide: bool| {
            let (mut loc, mut mkt64, mut matched) = (vec![0_i64; len], vec![0_i64; len], vec![0_i64; len]);
            let (mut loc32, mut mkt) = (vec![0_i32; len], vec![0_i32; len]);
            let (f, r) = (Factor::new(550_000), Factor::new(609_600));
            let a = simd::plain_row::<true, i64>(wide, i, &load, &pv, &green[..len], simd::Factors { location: f, residual: r }, simd::PlainOut { location: &mut loc, market: &mut mkt64, matched: &mut matched });
            let b = simd::plain_row::<false, i32>(wide, i, &load, &pv, &[], simd::Factors { location: f, residual: r }, simd::PlainOut { location: &mut loc32, market: &mut mkt, matched: &mut [] });
            let mut acc = vec![0_i64; len];
            simd::add_shares(wide, &pv, 37, i, &mut acc);
            let uses: Vec<f64> = load.iter().map(|&l| l as f64 * 0.37).collect();
            let (sa, sb) = (vec![0.5; len], vec![0.25; len]);
            let mut alloc = vec![0_i64; len];
            simd::pro_rata_row(wide, i, &uses, &sa, &sb, &pv, &mut alloc);
            (a, b, loc, mkt64, loc32, mkt, matched, acc, alloc)
        };
        prop_assert_eq!(run(false), run(simd::avx512()));
        let mut q = vec![0; len];
        let mut rem = vec![0; len];
        let given = simd::quotas(&splits[0], &load, &mut q, &mut rem);
        for (k, &w) in load.iter().enumerate() {
            prop_assert_eq!((q[k], rem[k]), splits[0].quota(w));
        }
        prop_assert_eq!(given, q.iter().sum::<i64>());
    }
}
