//! Criterion benches of the carbon engine: hourly Scope 2 (both methods, PV and contracts),
//! pro-rata allocation, Shapley allocation (exact and sampled) and the audit tree, on
//! seeded park-like inputs. `cargo bench --bench carbon`.

// A bench that fails must fail loudly, not time an error path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use _core::carbon::{allocate_pro_rata, audit, scope2, shapley_allocation, ShapleyOptions};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

/// Loads of `n` tenants over `hours` hours (Wh), a daytime PV shape and one contract.
fn park(n: usize, hours: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>) {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % 1000
    };
    let load: Vec<i64> = (0..n * hours)
        .map(|_| 50_000 + next() as i64 * 400)
        .collect();
    let pv: Vec<i64> = (0..hours)
        .map(|h| {
            let hour = (h % 24) as i64;
            if (7..18).contains(&hour) {
                (6 - (hour - 12).abs()) * 400_000
            } else {
                0
            }
        })
        .collect();
    let contract: Vec<i64> = (0..hours).map(|_| 2_000_000).collect();
    let share: Vec<i64> = (0..n).map(|i| 1 + (i % 3) as i64).collect();
    (load, pv, contract, share)
}

fn scope2_hourly(c: &mut Criterion) {
    let (n, hours) = (200, 8760);
    let (load, pv, contract, share) = park(n, hours);
    let input = scope2::Scope2Input {
        n,
        hours,
        load_wh: &load,
        pv_wh: &pv,
        pv_sharing: scope2::PvSharing::ProRata,
        contract_wh: &contract,
        contract_share: &share,
        certificate_wh: None,
        gate_import_wh: None,
        loss_policy: scope2::LossPolicy::Landlord,
        location_ug_per_wh: 581_000,
        residual_ug_per_wh: 610_000,
        detail: true,
    };
    let mut group = c.benchmark_group("scope2");
    group.sample_size(10);
    group.bench_function("200 tenants x 8760 h", |b| {
        b.iter(|| scope2::scope2(black_box(&input)).unwrap().location_g.len())
    });
    group.finish();
}

fn pro_rata(c: &mut Criterion) {
    let (n, hours) = (1000, 8760);
    let (load, _, _, _) = park(n, hours);
    let use_: Vec<f64> = load.iter().map(|&w| w as f64).collect();
    let total: Vec<i64> = (0..hours).map(|h| 10_000_000 + h as i64).collect();
    let mut group = c.benchmark_group("pro_rata");
    group.sample_size(10);
    group.bench_function("1000 tenants x 8760 h", |b| {
        b.iter(|| {
            allocate_pro_rata(black_box(&total), &use_, n)
                .unwrap()
                .alloc_g
                .len()
        })
    });
    group.finish();
}

fn shapley(c: &mut Criterion) {
    let hours = 168;
    let load_points = [0.0, 1e6, 2e6, 4e6];
    let emission_points = [0.0, 5e5, 1.2e6, 3e6];
    let mut group = c.benchmark_group("shapley");
    group.sample_size(10);
    for (n, exact) in [(12_usize, true), (64, false)] {
        let (load, _, _, _) = park(n, hours);
        let use_: Vec<f64> = load.iter().map(|&w| w as f64 / 10.0).collect();
        let options = ShapleyOptions {
            exact: Some(exact),
            samples: None,
            seed: 1,
        };
        let name = format!(
            "{n} tenants x {hours} h {}",
            if exact { "exact" } else { "sampled" }
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                shapley_allocation(
                    black_box(&use_),
                    n,
                    hours,
                    &load_points,
                    &emission_points,
                    options,
                )
                .unwrap()
                .co2e_g
                .len()
            })
        });
    }
    group.finish();
}

fn merkle(c: &mut Criterion) {
    let rows: Vec<Vec<u8>> = (0..200_000_u64)
        .map(|i| format!("park|tenant{i}|scope2|grid|{}|{}", i * 3600, i % 977).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = rows.iter().map(|r| r.as_slice()).collect();
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.bench_function("merkle root of 200k rows", |b| {
        b.iter(|| audit::root(&audit::leaf_hashes(black_box(&refs))))
    });
    group.finish();
}

criterion_group!(benches, scope2_hourly, pro_rata, shapley, merkle);
criterion_main!(benches);
