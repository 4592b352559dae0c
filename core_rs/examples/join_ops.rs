//! Where the CPU of one PSI element goes: single-thread CPU microseconds of each
//! operation, then the whole intersection-mode protocol phase by phase (all threads).
//!
//! `cargo run --release --example join_ops [log2_n]` (default 18). Thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`) for the single-thread table, process CPU time
//! (`CLOCK_PROCESS_CPUTIME_ID`) for the protocol phases.

// A measuring tool, not engine code: a failure should stop it loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use _core::join::group::SecretScalar;
use _core::join::hash::{canonical_key, expand_message_xmd_64, oprf_output, DST_H2G};
use _core::join::{KeyKind, Mode, Options, Receiver, Sender, StrColumn, Suite};
use curve25519_dalek::ristretto::RistrettoPoint;

fn cpu(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn thread_cpu() -> f64 {
    cpu(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn process_cpu() -> f64 {
    cpu(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Microseconds per item of `f` over `items` items (best of 3 runs).
fn per_item(items: usize, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = thread_cpu();
            f();
            (thread_cpu() - t) / items as f64 * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

/// `n` distinct valid 18-character unified social credit codes (as the bench makes them).
fn uscc_ids(n: usize, seed: u64) -> Vec<String> {
    const CHARSET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let mut body = [0_usize; 17];
            let mut w = 1;
            let mut sum = 0;
            for b in &mut body {
                *b = (next() % 31) as usize;
                sum += *b * w;
                w = w * 3 % 31;
            }
            let check = (31 - sum % 31) % 31;
            body.iter()
                .chain(std::iter::once(&check))
                .map(|&i| CHARSET[i] as char)
                .collect()
        })
        .collect()
}

fn column(ids: &[String]) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for id in ids {
        data.extend_from_slice(id.as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

/// The multi-buffer (8-lane AVX-512 IFMA) operations, per point, single thread.
#[cfg(target_arch = "x86_64")]
fn mb_rows(
    uniform: &[[u8; 64]],
    compressed: &[curve25519_dalek::ristretto::CompressedRistretto],
    s: &SecretScalar,
) {
    use _core::join::mb::{Digits, Ifma};
    let Some(t) = Ifma::detect() else {
        println!("multi-buffer: skipped (no AVX-512 IFMA)");
        return;
    };
    let m = uniform.len() / 8 * 8;
    let u8s: Vec<[[u8; 64]; 8]> = uniform[..m]
        .chunks(8)
        .map(|c| std::array::from_fn(|j| c[j]))
        .collect();
    let e8s: Vec<[[u8; 32]; 8]> = compressed[..m]
        .chunks(8)
        .map(|c| std::array::from_fn(|j| c[j].to_bytes()))
        .collect();
    let digits = Digits::from_scalar(&s.0);
    let rows = [
        (
            "mb: from_uniform_bytes + encode",
            per_item(m, || {
                for u in &u8s {
                    black_box(t.hash_encode(u));
                }
            }),
        ),
        (
            "mb: decode + encode",
            per_item(m, || {
                for e in &e8s {
                    black_box(t.decode_encode(e));
                }
            }),
        ),
        (
            "mb: from_uniform_bytes, * s, encode",
            per_item(m, || {
                for u in &u8s {
                    black_box(t.hash_mul_encode(u, &digits));
                }
            }),
        ),
        (
            "mb: decode, * s, encode",
            per_item(m, || {
                for e in &e8s {
                    black_box(t.decode_mul_encode(e, &digits));
                }
            }),
        ),
    ];
    println!("multi-buffer (8 lanes, AVX-512 IFMA), CPU us per point:");
    for (name, us) in &rows {
        println!("  {name:<46} {us:>8.3}");
    }
    println!(
        "  {:<46} {:>8.3}",
        "mb: * s alone (difference of the two above)",
        rows[3].1 - rows[1].1
    );
}

#[cfg(not(target_arch = "x86_64"))]
fn mb_rows(
    _: &[[u8; 64]],
    _: &[curve25519_dalek::ristretto::CompressedRistretto],
    _: &SecretScalar,
) {
}

fn main() {
    let log2: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(18);
    let n = 1_usize << log2;
    let m = 4096;
    let ids = uscc_ids(m, 1);
    let keys: Vec<Vec<u8>> = ids.iter().map(|s| s.as_bytes().to_vec()).collect();
    let s = SecretScalar::random().unwrap();
    let uniform: Vec<[u8; 64]> = keys
        .iter()
        .map(|k| expand_message_xmd_64(&[k], DST_H2G).unwrap())
        .collect();
    let points: Vec<RistrettoPoint> = uniform
        .iter()
        .map(RistrettoPoint::from_uniform_bytes)
        .collect();
    let compressed: Vec<_> = points.iter().map(|p| p.compress()).collect();

    println!("single thread, CPU us per item ({m} items):");
    let rows: Vec<(&str, f64)> = vec![
        (
            "canonical_key (trim, upper-case, USCC check)",
            per_item(m, || {
                for (i, k) in keys.iter().enumerate() {
                    black_box(canonical_key(k, KeyKind::Uscc, "keys", i).unwrap());
                }
            }),
        ),
        (
            "expand_message_xmd (2 SHA-512 calls)",
            per_item(m, || {
                for k in &keys {
                    black_box(expand_message_xmd_64(&[k], DST_H2G).unwrap());
                }
            }),
        ),
        (
            "from_uniform_bytes (2 Elligator maps)",
            per_item(m, || {
                for u in &uniform {
                    black_box(RistrettoPoint::from_uniform_bytes(u));
                }
            }),
        ),
        (
            "decompress",
            per_item(m, || {
                for c in &compressed {
                    black_box(c.decompress());
                }
            }),
        ),
        (
            "compress (single)",
            per_item(m, || {
                for p in &points {
                    black_box(p.compress());
                }
            }),
        ),
        (
            "double_and_compress_batch (2048), per point",
            per_item(m, || {
                for c in points.chunks(2048) {
                    black_box(RistrettoPoint::double_and_compress_batch(c));
                }
            }),
        ),
        (
            "RistrettoPoint * Scalar (constant time)",
            per_item(m / 4, || {
                for p in &points[..m / 4] {
                    black_box(p * s.0);
                }
            }),
        ),
        (
            "oprf_output (SHA-512 of key and point)",
            per_item(m, || {
                for (k, c) in keys.iter().zip(&compressed) {
                    black_box(oprf_output(k, c));
                }
            }),
        ),
    ];
    for (name, us) in &rows {
        println!("  {name:<46} {us:>8.3}");
    }
    mb_rows(&uniform, &compressed, &s);

    // The whole intersection-mode protocol at n x n, 50 % overlap.
    let all = uscc_ids(n + n / 2, 2);
    let (so, sd) = column(&all[..n]);
    let (co, cd) = column(&all[n / 2..]);
    let options = Options {
        mode: Mode::Intersection,
        verifiable: false,
        key_kind: KeyKind::Uscc,
        suite: Suite::ZoneOptV1,
    };
    let run = || -> Vec<(&'static str, f64, f64)> {
        let mut phases = Vec::new();
        let mut mark = |name, c0: &mut f64, w0: &mut std::time::Instant| {
            let (c, w) = (process_cpu(), std::time::Instant::now());
            phases.push((name, c - *c0, (w - *w0).as_secs_f64()));
            *c0 = c;
            *w0 = w;
        };
        _core::parallel::install(|| {
            let (mut c0, mut w0) = (process_cpu(), std::time::Instant::now());
            let mut server = Sender::new(
                StrColumn {
                    offsets: &so,
                    data: &sd,
                },
                None,
                options,
                0,
            )?;
            mark("server new (canonical keys, distinct)", &mut c0, &mut w0);
            let setup = server.setup_message()?;
            mark(
                "server setup (H2G, mul, compress, tags, sort)",
                &mut c0,
                &mut w0,
            );
            let mut client = Receiver::new(
                StrColumn {
                    offsets: &co,
                    data: &cd,
                },
                None,
                options,
                false,
            )?;
            mark("client new (canonical keys, distinct)", &mut c0, &mut w0);
            let request = client.request(None)?;
            mark("client request (H2G, mul, compress)", &mut c0, &mut w0);
            let response = server.respond(&request)?;
            mark(
                "server respond (decompress, mul, compress)",
                &mut c0,
                &mut w0,
            );
            let out = client.finish(&setup, &response)?;
            mark(
                "client finish (decompress, mul, compress, tags)",
                &mut c0,
                &mut w0,
            );
            assert_eq!(out.indices.len(), n / 2);
            let bytes = setup.len() + request.len() + response.len();
            println!("  bytes per element: {:.1}", bytes as f64 / n as f64);
            drop((server, client));
            mark("drop", &mut c0, &mut w0);
            Ok(())
        })
        .unwrap();
        phases
    };
    println!(
        "protocol at 2^{log2} x 2^{log2}, {} threads, CPU us per element (wall us):",
        _core::parallel::num_threads()
    );
    let phases = run();
    let mut total = (0.0, 0.0);
    for (name, c, w) in &phases {
        println!(
            "  {name:<50} {:>8.2} ({:>7.2})",
            c / n as f64 * 1e6,
            w / n as f64 * 1e6
        );
        total.0 += c;
        total.1 += w;
    }
    println!(
        "  {:<50} {:>8.2} ({:>7.2})",
        "total",
        total.0 / n as f64 * 1e6,
        total.1 / n as f64 * 1e6
    );
}
