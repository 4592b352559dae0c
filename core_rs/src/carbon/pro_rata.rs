//! Pro-rata allocation of hourly totals by metered use, exact in integer grams.
//!
//! # The rule
//! For each hour `h`, the total `T_h` (grams, `>= 0`) is divided among the `n` tenants in
//! proportion to their use `u_ih` (any non-negative unit: kWh, m3, GJ). The split is done
//! **entirely in integer arithmetic**, so it is deterministic and exact:
//!
//! 1. *Weights.* Let `m_h = max_i u_ih`. If `m_h == 0` nobody used the facility in that hour:
//!    every tenant gets 0 and `T_h` goes to the explicit **unallocated pool**
//!    ([`ProRata::unallocated_g`]); it is never silently dropped. Otherwise each use is
//!    quantised to an integer weight `w_ih = rint(u_ih * 2^(b - E_h))` (round half to even),
//!    where `m_h = f * 2^E_h` with `f` in `[0.5, 1)` (C's `frexp`) and
//!    `b = min(52, 61 - bitlen(n))` (47 bits for 10^4 tenants). The largest weight lies in
//!    `[2^(b-1), 2^b]`, so weights keep `b` significant bits relative to the hour's largest
//!    use and their sum stays below 2^61. When all uses are integers below `2^b` (metered
//!    Wh, say) the quantisation is exact; otherwise it moves a quota by at most about
//!    `T_h * 2^-b` grams (under 0.04 g at the largest total and 10^4 tenants).
//! 2. *Quotas.* With `W_h = sum_i w_ih`, tenant `i` first gets `floor(T_h * w_ih / W_h)`,
//!    computed exactly although `T_h * w_ih` can exceed 64 bits (a float estimate
//!    corrected in wrapping 64-bit arithmetic, as in the splits of `scope2`).
//! 3. *Largest remainder (Hamilton).* The `T_h - sum_i floor(...)` grams left (fewer than
//!    `n`) go one each to the tenants with the largest remainders `(T_h * w_ih) mod W_h`;
//!    **ties go to the lower tenant index**. This is the only place row order matters: the
//!    result for a permutation of the rows is the permutation of the result, except that
//!    tenants with exactly tied remainders may swap a single gram.
//!
//! So `sum_i alloc_ih + unallocated_h == T_h` exactly, for every hour, and every allocation
//! is non-negative. `T_h` must be at most [`MAX_TOTAL_G`] (2^42 g, about 4.4 Mt CO2e in an
//! hour, far above any facility), which keeps the quotient estimate within its bounds.
//!
//! Complexity: O(n * H) time, parallel on the engine pool: one pass over the uses (checks
//! and each hour's largest), each hour's split over blocks of hours, then each tenant's
//! row written once (vectorised where the CPU has AVX-512); O(n * H) extra memory for the
//! result.

use rayon::prelude::*;

use crate::budget::Need;
pub use crate::carbon::split::MAX_TOTAL_G;
use crate::carbon::split::{round_half_even, simd, zeroed_populated, Split, SplitScratch};
use crate::error::{CoreError, CoreResult};

/// Hours handled by one parallel task.
const BLOCK_HOURS: usize = 64;

/// The result of [`allocate_pro_rata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProRata {
    /// Tenants.
    pub n: usize,
    /// Hours.
    pub hours: usize,
    /// Grams per tenant and hour, row-major `n x hours`.
    pub alloc_g: Vec<i64>,
    /// Grams per hour that no tenant could take (hours in which nobody used anything).
    pub unallocated_g: Vec<i64>,
}

/// Binary exponent `E` with `x = f * 2^E`, `f` in `[0.5, 1)`, for finite `x > 0`.
pub(crate) fn frexp_exponent(x: f64) -> i32 {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        frexp_exponent(x * TWO_64) - 64
    } else {
        biased - 1022
    }
}

/// `x * 2^k`, exact whenever the result is a normal number (as C's `ldexp`).
#[cfg(test)]
pub(crate) fn ldexp(x: f64, k: i32) -> f64 {
    let half = k / 2;
    x * pow2(half) * pow2(k - half)
}

fn pow2(k: i32) -> f64 {
    // |k| <= 1100 / 2 + 1 here, inside the normal exponent range.
    f64::from_bits(((k + 1023) as u64) << 52)
}

fn bit_length(x: u64) -> i32 {
    (64 - x.leading_zeros()) as i32
}

/// Significant bits kept in the weights of `n` tenants: the weights' sum stays below 2^61.
pub(crate) fn weight_bits(n: usize) -> i32 {
    52.min(61 - bit_length(n as u64))
}

fn validate(total_g: &[i64], use_: &[f64], n: usize) -> CoreResult<()> {
    let hours = total_g.len();
    if use_.len() != n.saturating_mul(hours) {
        return Err(CoreError::invalid(
            "use",
            None,
            format!(
                "has {} values, expected n x hours = {n} x {hours} (the length of total_g)",
                use_.len()
            ),
        ));
    }
    if let Some((h, &t)) = total_g
        .iter()
        .enumerate()
        .find(|(_, &t)| !(0..=MAX_TOTAL_G).contains(&t))
    {
        let reason = if t < 0 {
            format!("total {t} g is negative")
        } else {
            format!("total {t} g exceeds the limit of {MAX_TOTAL_G} g per hour")
        };
        return Err(CoreError::invalid("total_g", Some(h), reason));
    }
    Ok(())
}

/// Divide each hour's `total_g` among `n` tenants by their `use_` (row-major `n x hours`,
/// `hours = total_g.len()`) with the largest-remainder rule of the module documentation.
///
/// Errors name the field and row: `use` (tenant row) for a negative, NaN or infinite value,
/// `use` for a length that is not `n x hours`, `total_g` (hour) for a negative or too large
/// total.
pub fn allocate_pro_rata(total_g: &[i64], use_: &[f64], n: usize) -> CoreResult<ProRata> {
    validate(total_g, use_, n)?;
    let hours = total_g.len();
    // The result and the per-hour splits, each as large as `use_`.
    Need::new("use").items(use_.len(), 8 + 16).check()?;
    if hours == 0 {
        return Ok(ProRata {
            n,
            hours,
            alloc_g: Vec::new(),
            unallocated_g: Vec::new(),
        });
    }
    let max_use = largest_use(use_, hours)?;
    // Each hour's scaling to integer weights, as the two exact multiplications of
    // `ldexp(u, b - E_h)`; zero for hours nobody used (their total goes to the pool).
    let bits = weight_bits(n);
    let (scale_a, scale_b): (Vec<f64>, Vec<f64>) = max_use
        .iter()
        .map(|&m| {
            if m > 0.0 {
                let k = bits - frexp_exponent(m);
                (pow2(k / 2), pow2(k - k / 2))
            } else {
                (0.0, 0.0)
            }
        })
        .unzip();
    let unallocated_g = max_use
        .iter()
        .zip(total_g)
        .map(|(&m, &t)| if m > 0.0 { 0 } else { t })
        .collect();
    // Phase one, per block of hours (hour-major): each hour's split. Meanwhile the
    // result's pages are mapped.
    let blocks = hours.div_ceil(BLOCK_HOURS);
    let splits = || -> Vec<Vec<Split>> {
        (0..blocks)
            .into_par_iter()
            .map_init(Scratch::default, |scratch, b| {
                let h0 = b * BLOCK_HOURS;
                let h1 = (h0 + BLOCK_HOURS).min(hours);
                splits_of_block(
                    total_g,
                    use_,
                    n,
                    hours,
                    h0..h1,
                    (&scale_a, &scale_b),
                    scratch,
                )
            })
            .collect()
    };
    let (splits, mut alloc_g) = rayon::join(splits, || zeroed_populated::<i64>(n * hours));
    let columns = simd::SplitColumns::new(splits.iter().flatten());
    // Phase two, per chunk of tenants and tile of hours (the tile's splits stay in cache):
    // each tenant's row from its own uses, vectorised.
    let wide = simd::avx512();
    alloc_g
        .par_chunks_mut(hours * TENANT_CHUNK)
        .zip(use_.par_chunks(hours * TENANT_CHUNK))
        .enumerate()
        .for_each(|(c, (out, uses))| {
            for h0 in (0..hours).step_by(HOUR_TILE) {
                let h1 = (h0 + HOUR_TILE).min(hours);
                let split = columns.slice(h0, h1);
                let rows = out.chunks_mut(hours).zip(uses.chunks(hours));
                for (t, (row, u)) in rows.enumerate() {
                    let i = (c * TENANT_CHUNK + t) as i64;
                    let (a, b) = (&scale_a[h0..h1], &scale_b[h0..h1]);
                    simd::pro_rata_row(wide, i, &u[h0..h1], a, b, &split, &mut row[h0..h1]);
                }
            }
        });
    Ok(ProRata {
        n,
        hours,
        alloc_g,
        unallocated_g,
    })
}

/// Tenants per phase-two task, and hours per tile.
const TENANT_CHUNK: usize = 16;
const HOUR_TILE: usize = 1024;

/// The largest use of each hour, the uses checked (finite, non-negative) in the same
/// read; the error names the tenant row and the hour.
fn largest_use(use_: &[f64], hours: usize) -> CoreResult<Vec<f64>> {
    const ROWS: usize = 32;
    let (largest, bad) = use_
        .par_chunks(hours * ROWS)
        .fold(
            || (vec![0.0_f64; hours], false),
            |(mut m, mut bad), rows| {
                for row in rows.chunks(hours) {
                    for (a, &u) in m.iter_mut().zip(row) {
                        // Branch-free; NaN fails both comparisons.
                        bad |= !((0.0..=f64::MAX).contains(&u));
                        *a = if u > *a { u } else { *a };
                    }
                }
                (m, bad)
            },
        )
        .reduce(
            || (vec![0.0_f64; hours], false),
            |(mut a, x), (b, y)| {
                for (p, &q) in a.iter_mut().zip(&b) {
                    *p = if q > *p { q } else { *p };
                }
                (a, x | y)
            },
        );
    if bad {
        let found = use_
            .par_chunks(hours)
            .enumerate()
            .find_map_first(|(i, row)| {
                row.iter()
                    .position(|u| !(u.is_finite() && *u >= 0.0))
                    .map(|h| (i, h, row[h]))
            });
        if let Some((i, h, u)) = found {
            return Err(CoreError::invalid(
                "use",
                Some(i),
                format!("hour {h}: use {u} must be finite and non-negative"),
            ));
        }
    }
    Ok(largest)
}

/// Buffers reused across the blocks one worker handles.
#[derive(Default)]
struct Scratch {
    weights: Vec<i64>,
    split: SplitScratch,
}

/// The splits of the hours `h0..h1`: each hour's integer weights gathered hour-major
/// (tiles of 8 tenants: each write fills a cache line, the reads are 8 sequential
/// streams), then the largest-remainder split of its total over them.
fn splits_of_block(
    total_g: &[i64],
    use_: &[f64],
    n: usize,
    hours: usize,
    block: std::ops::Range<usize>,
    (scale_a, scale_b): (&[f64], &[f64]),
    scratch: &mut Scratch,
) -> Vec<Split> {
    let (h0, h1) = (block.start, block.end);
    const TILE: usize = 8;
    let width = h1 - h0;
    let Scratch { weights, split } = scratch;
    // weights[j * n + i]; every slot is written below.
    weights.resize(n * width, 0);
    for i0 in (0..n).step_by(TILE) {
        let tile = TILE.min(n - i0);
        let rows: [&[f64]; TILE] = std::array::from_fn(|t| {
            let i = (i0 + t).min(n - 1);
            &use_[i * hours + h0..i * hours + h1]
        });
        for j in 0..width {
            let (a, b) = (scale_a[h0 + j], scale_b[h0 + j]);
            let dst = &mut weights[j * n + i0..j * n + i0 + tile];
            for (d, row) in dst.iter_mut().zip(&rows) {
                // An integer in [0, 2^52] (0 in an hour nobody used): the cast is exact.
                *d = round_half_even(row[j] * a * b) as i64;
            }
        }
    }
    (0..width)
        .map(|j| {
            let w = &weights[j * n..(j + 1) * n];
            let sum: i64 = w.iter().sum();
            if sum == 0 {
                return Split::NONE;
            }
            // Quotas, then the grams left to the largest remainders, ties to the lower
            // index: the same rule as scope 2's splits, with their bucketed selection.
            Split::new(total_g[h0 + j], w, sum, split)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn column_sums(r: &ProRata) -> Vec<i64> {
        (0..r.hours)
            .map(|h| (0..r.n).map(|i| r.alloc_g[i * r.hours + h]).sum())
            .collect()
    }

    #[test]
    fn worked_example_by_hand() {
        // Hour 0: 100 g over uses 1, 1, 1: quotas 33.33 each, 1 g left, ties -> tenant 0.
        // Hour 1: 10 g over uses 0, 2, 3: quotas 0, 4, 6 exactly.
        // Hour 2: 7 g over uses 0, 0, 0: nobody used it, 7 g unallocated.
        // Hour 3: 5 g over uses 1, 2, 0: quotas 1.67, 3.33: floors 1 + 3, remainder to 0.
        let total = [100, 10, 7, 5];
        let use_ = [
            1.0, 0.0, 0.0, 1.0, //
            1.0, 2.0, 0.0, 2.0, //
            1.0, 3.0, 0.0, 0.0,
        ];
        let r = allocate_pro_rata(&total, &use_, 3).unwrap();
        assert_eq!(r.alloc_g, vec![34, 0, 0, 2, 33, 4, 0, 3, 33, 6, 0, 0]);
        assert_eq!(r.unallocated_g, vec![0, 0, 7, 0]);
    }

    #[test]
    fn helpers_match_c_semantics() {
        assert_eq!(frexp_exponent(1.0), 1);
        assert_eq!(frexp_exponent(0.5), 0);
        assert_eq!(frexp_exponent(3.0), 2);
        assert_eq!(frexp_exponent(f64::MIN_POSITIVE), -1021);
        assert_eq!(frexp_exponent(f64::MIN_POSITIVE / 8.0), -1024);
        assert_eq!(ldexp(3.0, 4), 48.0);
        assert_eq!(ldexp(1e-300, 1000), 1e-300 * 2f64.powi(1000));
        assert_eq!(ldexp(1e300, -1030), 1e300 / 2f64.powi(1000) / 2f64.powi(30));
    }

    #[test]
    fn tiny_and_huge_uses_are_handled() {
        let r = allocate_pro_rata(&[9, 9], &[1e-310, 1e300, 3e-310, 3e300], 2).unwrap();
        assert_eq!(r.alloc_g, vec![2, 2, 7, 7]);
    }

    #[test]
    fn errors_name_field_and_row() {
        let e = allocate_pro_rata(&[1, 2], &[1.0, 2.0, -1.0, 0.0], 2).unwrap_err();
        assert_eq!(
            e,
            CoreError::invalid(
                "use",
                Some(1),
                "hour 0: use -1 must be finite and non-negative"
            )
        );
        let e = allocate_pro_rata(&[1, 2], &[1.0, f64::NAN, 1.0, 0.0], 2).unwrap_err();
        assert!(e.to_string().contains("use (row 0): hour 1"), "{e}");
        let e = allocate_pro_rata(&[1, -2], &[1.0; 4], 2).unwrap_err();
        assert!(e.to_string().contains("total_g (row 1)"), "{e}");
        let e = allocate_pro_rata(&[MAX_TOTAL_G + 1], &[1.0], 1).unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
        let e = allocate_pro_rata(&[1, 2], &[1.0; 3], 2).unwrap_err();
        assert!(e.to_string().contains("use: has 3 values"), "{e}");
    }

    #[test]
    fn no_tenants_and_no_hours() {
        let r = allocate_pro_rata(&[5, 0], &[], 0).unwrap();
        assert_eq!(r.unallocated_g, vec![5, 0]);
        let r = allocate_pro_rata(&[], &[], 4).unwrap();
        assert!(r.alloc_g.is_empty());
    }

    fn case() -> impl Strategy<Value = (usize, Vec<i64>, Vec<f64>)> {
        (1usize..7, 1usize..150).prop_flat_map(|(n, h)| {
            (
                Just(n),
                proptest::collection::vec(0i64..1_000_000, h),
                proptest::collection::vec(
                    prop_oneof![Just(0.0), 0.0..1000.0, (0u32..50).prop_map(f64::from)],
                    n * h,
                ),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn conserves_exactly_and_is_non_negative((n, total, use_) in case()) {
            let r = allocate_pro_rata(&total, &use_, n).unwrap();
            let sums = column_sums(&r);
            for h in 0..total.len() {
                prop_assert_eq!(sums[h] + r.unallocated_g[h], total[h]);
                let used = (0..n).any(|i| use_[i * total.len() + h] > 0.0);
                prop_assert_eq!(r.unallocated_g[h], if used { 0 } else { total[h] });
            }
            prop_assert!(r.alloc_g.iter().all(|&a| a >= 0));
            // Within one gram of the real-valued quota.
            for i in 0..n {
                for h in 0..total.len() {
                    let s: f64 = (0..n).map(|j| use_[j * total.len() + h]).sum();
                    if s > 0.0 {
                        let q = total[h] as f64 * use_[i * total.len() + h] / s;
                        prop_assert!((r.alloc_g[i * total.len() + h] as f64 - q).abs() < 1.0 + 1e-6);
                    }
                }
            }
        }

        #[test]
        fn raising_ones_use_never_lowers_its_share(
            (n, total, use_) in case(), who in 0usize..7, hour in 0usize..150, extra in 1u32..100,
        ) {
            let hours = total.len();
            let (i, h) = (who % n, hour % hours);
            // Integer-valued uses keep the quantisation exact (see the module docs).
            let base: Vec<f64> = use_.iter().map(|u| u.round()).collect();
            let mut more = base.clone();
            more[i * hours + h] += f64::from(extra);
            let before = allocate_pro_rata(&total, &base, n).unwrap();
            let after = allocate_pro_rata(&total, &more, n).unwrap();
            prop_assert!(after.alloc_g[i * hours + h] >= before.alloc_g[i * hours + h]);
        }

        #[test]
        fn permuting_tenants_moves_at_most_a_tied_gram(
            (n, total, use_) in case(), rot in 0usize..7,
        ) {
            let hours = total.len();
            let rot = rot % n;
            let mut rotated = use_.clone();
            rotated.rotate_left(rot * hours);
            let a = allocate_pro_rata(&total, &use_, n).unwrap();
            let b = allocate_pro_rata(&total, &rotated, n).unwrap();
            for i in 0..n {
                let j = (i + n - rot) % n; // tenant i sits at row j after rotation
                for h in 0..hours {
                    prop_assert!((a.alloc_g[i * hours + h] - b.alloc_g[j * hours + h]).abs() <= 1);
                }
            }
        }

        #[test]
        fn scaling_all_uses_by_a_power_of_two_changes_nothing((n, total, use_) in case(), k in -40i32..40) {
            let scaled: Vec<f64> = use_.iter().map(|u| ldexp(*u, k)).collect();
            let a = allocate_pro_rata(&total, &use_, n).unwrap();
            let b = allocate_pro_rata(&total, &scaled, n).unwrap();
            prop_assert_eq!(a, b);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// An independent reference: the same integer weights, exact 128-bit quotas and
        /// remainders, a stable sort of the remainders for the grams left.
        #[test]
        fn matches_an_exact_sorting_reference((n, total, use_) in case()) {
            let hours = total.len();
            let r = allocate_pro_rata(&total, &use_, n).unwrap();
            let bits = weight_bits(n);
            for h in 0..hours {
                let col: Vec<f64> = (0..n).map(|i| use_[i * hours + h]).collect();
                let max = col.iter().copied().fold(0.0, f64::max);
                if max == 0.0 {
                    prop_assert_eq!(r.unallocated_g[h], total[h]);
                    continue;
                }
                let k = bits - frexp_exponent(max);
                let w: Vec<i128> = col.iter().map(|&u| ldexp(u, k).round_ties_even() as i128).collect();
                let sum: i128 = w.iter().sum();
                let t = i128::from(total[h]);
                let mut alloc: Vec<i128> = w.iter().map(|&x| t * x / sum).collect();
                let left = t - alloc.iter().sum::<i128>();
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(t * w[i] % sum)); // stable
                for &i in order.iter().take(left as usize) {
                    alloc[i] += 1;
                }
                for i in 0..n {
                    prop_assert_eq!(i128::from(r.alloc_g[i * hours + h]), alloc[i]);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn round_half_even_is_rint(x in prop_oneof![0.0f64..4.0, 0.0f64..=4_503_599_627_370_496.0], halves in 0u64..(1 << 52)) {
            prop_assert_eq!(round_half_even(x), x.round_ties_even());
            let half = halves as f64 + 0.5; // exact below 2^52
            prop_assert_eq!(round_half_even(half), half.round_ties_even());
        }
    }

    #[test]
    fn large_totals_keep_sub_gram_accuracy() {
        let use_ = [1.0 / 3.0, 2.0 / 3.0, 1e-9];
        let r = allocate_pro_rata(&[MAX_TOTAL_G], &use_, 3).unwrap();
        let sum: f64 = use_.iter().sum();
        for (g, u) in r.alloc_g.iter().zip(use_) {
            assert!(
                (*g as f64 - MAX_TOTAL_G as f64 * u / sum).abs() < 1.0,
                "{:?}",
                r.alloc_g
            );
        }
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let r = allocate_pro_rata(&[5], &[1.0, 1.0, 1.0], 3).unwrap();
        assert_eq!(r.alloc_g, vec![2, 2, 1]);
    }

    #[test]
    fn many_hours_cross_block_boundaries() {
        let hours = 3 * BLOCK_HOURS + 5;
        let n = 4;
        let total: Vec<i64> = (0..hours as i64).map(|h| h * 7 + 3).collect();
        let use_: Vec<f64> = (0..n * hours).map(|k| (k % 5) as f64).collect();
        let r = allocate_pro_rata(&total, &use_, n).unwrap();
        let sums = column_sums(&r);
        for h in 0..hours {
            assert_eq!(sums[h] + r.unallocated_g[h], total[h]);
        }
        // Each hour equals the same hour allocated alone.
        for h in [0, BLOCK_HOURS - 1, BLOCK_HOURS, hours - 1] {
            let one: Vec<f64> = (0..n).map(|i| use_[i * hours + h]).collect();
            let alone = allocate_pro_rata(&total[h..=h], &one, n).unwrap();
            for i in 0..n {
                assert_eq!(alone.alloc_g[i], r.alloc_g[i * hours + h]);
            }
        }
    }
}
