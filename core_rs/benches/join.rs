//! Criterion benches of the private-join engine: one whole DH-OPRF session (setup,
//! request, response, finish) in the intersection and verifiable modes, and the group
//! operation behind it. `cargo bench --bench join`.

// A bench that fails must fail loudly, not time an error path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use _core::join::{KeyKind, Mode, Options, Receiver, Sender, StrColumn, Suite};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

/// `n` distinct text keys as an Arrow-style string column (offsets, bytes).
fn keys(range: std::ops::Range<usize>) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for i in range {
        data.extend_from_slice(format!("91440300MA5F{i:06}").as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

fn session(c: &mut Criterion) {
    let n = 1 << 12;
    let (so, sd) = keys(0..n);
    let (co, cd) = keys(n / 2..n + n / 2);
    let mut group = c.benchmark_group("join_session");
    group.sample_size(10);
    for verifiable in [false, true] {
        let options = Options {
            mode: Mode::Intersection,
            verifiable,
            key_kind: KeyKind::Text,
            suite: Suite::default_for(verifiable),
        };
        let name = if verifiable {
            "verifiable"
        } else {
            "intersection"
        };
        group.bench_with_input(BenchmarkId::new(name, n), &options, |b, &options| {
            b.iter(|| {
                let mut server = Sender::new(
                    StrColumn {
                        offsets: &so,
                        data: &sd,
                    },
                    None,
                    options,
                    1,
                )
                .unwrap();
                let mut client = Receiver::new(
                    StrColumn {
                        offsets: &co,
                        data: &cd,
                    },
                    None,
                    options,
                    false,
                )
                .unwrap();
                let setup = server.setup_message().unwrap();
                let request = client.request(Some(&setup)).unwrap();
                let response = server.respond(black_box(&request)).unwrap();
                client.finish(&setup, &response).unwrap().indices.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, session);
criterion_main!(benches);
