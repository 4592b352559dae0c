//! Criterion benches of the matching engine: sparse maximum-weight matching (auction and
//! greedy starts), dense assignment, and stable matching, on seeded random instances.
//! `cargo bench --bench matching`; CI runs each once (`cargo bench --benches -- --test`).

// A bench that fails must fail loudly, not time an error path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use _core::matching::{
    solve_dense, solve_sparse, stable::deferred_acceptance, SparseOptions, SparseProblem, Start,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

/// A seeded xorshift generator (benches need no cryptographic randomness).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `rows x k` distinct random edges with integer scores in `[0, 1000)`.
fn sparse_instance(rows: usize, cols: usize, k: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut r, mut c, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for row in 0..rows {
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < k.min(cols) {
            seen.insert(rng.below(cols as u64) as i64);
        }
        for col in seen {
            r.push(row as i64);
            c.push(col);
            s.push(rng.below(1000) as i64);
        }
    }
    (r, c, s)
}

fn sparse(c: &mut Criterion) {
    let mut group = c.benchmark_group("sparse");
    group.sample_size(10);
    for &(rows, cols, k) in &[(10_000, 5_000, 8), (100_000, 20_000, 16)] {
        let (r, cl, s) = sparse_instance(rows, cols, k);
        for (name, start) in [("auction", Start::Auction), ("greedy", Start::Greedy)] {
            group.bench_with_input(
                BenchmarkId::new(name, format!("{rows}x{cols}xk{k}")),
                &(),
                |b, ()| {
                    b.iter(|| {
                        solve_sparse(
                            SparseProblem {
                                rows: black_box(&r),
                                cols: &cl,
                                scores: &s,
                                n_rows: rows,
                                n_cols: cols,
                            },
                            SparseOptions {
                                perfect: false,
                                col_prices: None,
                                start,
                            },
                        )
                        .unwrap()
                        .row_to_col
                        .len()
                    })
                },
            );
        }
    }
    group.finish();
}

fn dense(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense");
    group.sample_size(10);
    for &n in &[500_usize, 1000] {
        let mut rng = Rng(7);
        let ints: Vec<i64> = (0..n * n).map(|_| rng.below(1000) as i64).collect();
        let floats: Vec<f64> = (0..n * n)
            .map(|_| rng.below(1 << 30) as f64 / 1e6)
            .collect();
        group.bench_with_input(BenchmarkId::new("int", n), &n, |b, &n| {
            b.iter(|| {
                solve_dense(black_box(&ints), n, n)
                    .unwrap()
                    .row_to_col
                    .len()
            })
        });
        group.bench_with_input(BenchmarkId::new("float", n), &n, |b, &n| {
            b.iter(|| {
                solve_dense(black_box(&floats), n, n)
                    .unwrap()
                    .row_to_col
                    .len()
            })
        });
    }
    group.finish();
}

fn stable(c: &mut Criterion) {
    let mut group = c.benchmark_group("stable");
    group.sample_size(10);
    let (rows, cols, k) = (50_000, 5_000, 8);
    let (r, cl, s) = sparse_instance(rows, cols, k);
    let proposer: Vec<f64> = s.iter().map(|&v| v as f64).collect();
    let mut rng = Rng(11);
    let receiver: Vec<f64> = s.iter().map(|_| rng.below(1000) as f64).collect();
    let capacities = vec![2_i64; cols];
    group.bench_function(format!("{rows}x{cols}xk{k}"), |b| {
        b.iter(|| {
            deferred_acceptance(black_box(&r), &cl, &proposer, &receiver, &capacities, None)
                .unwrap()
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, sparse, dense, stable);
criterion_main!(benches);
