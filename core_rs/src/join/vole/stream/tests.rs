//! Tests of [`super`]: the streaming VOLE PSI against plain set intersection, its padding
//! and its part checks.

use super::*;
use crate::join::vole::protocol::{HEADER_LEN, PART_LEN};
use std::collections::BTreeSet;

fn column(keys: &[String]) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for k in keys {
        data.extend_from_slice(k.as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

fn keys(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("KEY-{i:08}")).collect()
}

/// `(hashes, buckets)` of a whole key list, hashed in two batches.
fn hashed(
    party: &impl Fn(StrColumn<'_>, usize) -> CoreResult<(Vec<u128>, Vec<u32>)>,
    xs: &[String],
) -> (Vec<u128>, Vec<u32>) {
    let half = xs.len() / 2;
    let mut hashes = Vec::new();
    let mut buckets = Vec::new();
    for (first, part) in [(0, &xs[..half]), (half, &xs[half..])] {
        let (o, d) = column(part);
        let (h, b) = party(
            StrColumn {
                offsets: &o,
                data: &d,
            },
            first,
        )
        .unwrap();
        hashes.extend(h);
        buckets.extend(b);
    }
    (hashes, buckets)
}

fn distinct(h: &[u128]) -> u64 {
    h.iter().collect::<BTreeSet<_>>().len() as u64
}

/// Every message of a streaming session, bucket by bucket, and the receiver's rows.
struct Run {
    rows: Vec<i64>,
    messages: Vec<[Vec<u8>; 5]>,
    sender_padded: usize,
    receiver_padded: usize,
}

fn run(xs: &[String], ys: &[String], buckets: u32) -> Run {
    let mut s = StreamSender::new(KeyKind::Text, buckets).unwrap();
    let mut r = StreamReceiver::new(KeyKind::Text, buckets).unwrap();
    let (yh, yb) = hashed(&|k, f| s.hash_batch(k, f), ys);
    let (xh, xb) = hashed(&|k, f| r.hash_batch(k, f), xs);
    s.begin(distinct(&yh)).unwrap();
    r.begin(distinct(&xh)).unwrap();
    let mut rows = Vec::new();
    let mut messages = Vec::new();
    for b in 0..buckets {
        let theirs: Vec<u128> = yh
            .iter()
            .zip(&yb)
            .filter(|(_, &k)| k == b)
            .map(|(&h, _)| h)
            .collect();
        let (mine, where_): (Vec<u128>, Vec<i64>) = xh
            .iter()
            .zip(&xb)
            .enumerate()
            .filter(|(_, (_, &k))| k == b)
            .map(|(i, (&h, _))| (h, i as i64))
            .unzip();
        let setup = s.setup_part(b, theirs).unwrap();
        let request = r.request_part(&setup, &mine).unwrap();
        let vole = s.respond_part(&request).unwrap();
        let correction = r.correction_part(&vole).unwrap();
        let response = s.respond_part(&correction).unwrap();
        rows.extend(
            r.finish_part(&response)
                .unwrap()
                .into_iter()
                .map(|p| where_[p as usize]),
        );
        messages.push([setup, request, vole, correction, response]);
    }
    assert!(s.is_complete() && r.is_complete());
    rows.sort_unstable();
    Run {
        rows,
        messages,
        sender_padded: s.padded_len(),
        receiver_padded: r.padded_len(),
    }
}

fn expected(xs: &[String], ys: &[String]) -> Vec<i64> {
    let ys: BTreeSet<String> = ys.iter().map(|y| y.trim().to_uppercase()).collect();
    xs.iter()
        .enumerate()
        .filter(|(_, x)| ys.contains(&x.trim().to_uppercase()))
        .map(|(i, _)| i as i64)
        .collect()
}

#[test]
fn streamed_intersection_matches_plain_set_intersection() {
    let dup = |v: Vec<String>| -> Vec<String> { v.iter().chain(&v).cloned().collect() };
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (vec![], vec![]),
        (keys(0..10), vec![]),
        (vec![], keys(0..10)),
        (keys(0..1), keys(0..1)),
        (keys(0..2000), keys(0..2000)),
        (keys(0..700), keys(700..1400)),
        (dup(keys(0..300)), dup(keys(150..450))),
        (
            vec!["a".into(), "A ".into(), "ß".into(), "北京".into()],
            vec!["ß".into(), "a".into(), "北京 ".into()],
        ),
    ];
    for buckets in [1, 2, 8] {
        for (xs, ys) in &cases {
            let got = run(xs, ys, buckets);
            assert_eq!(
                got.rows,
                expected(xs, ys),
                "{buckets} buckets, |X| = {}",
                xs.len()
            );
        }
    }
}

#[test]
fn every_bucket_announces_the_padded_size() {
    let (xs, ys) = (keys(0..3000), keys(1000..5000));
    let got = run(&xs, &ys, 8);
    assert_eq!(got.sender_padded as u64, bucket_bound(4000, 8));
    assert_eq!(got.receiver_padded as u64, bucket_bound(3000, 8));
    let at = HEADER_LEN + PART_LEN;
    for m in &got.messages {
        // setup: the sender's size; request: the receiver's; the same in every bucket.
        assert_eq!(m[0][at..at + 8], (got.sender_padded as u64).to_le_bytes());
        assert_eq!(m[1][at..at + 8], (got.receiver_padded as u64).to_le_bytes());
        assert_eq!(m[3].len(), got.messages[0][3].len());
        assert_eq!(m[4].len(), got.messages[0][4].len());
    }
}

#[test]
fn the_bound_holds_for_random_sets_and_stays_close_to_the_mean() {
    for (n, buckets) in [(1_u64 << 16, 64_u32), (100_000, 16), (50, 8), (1, 2)] {
        let bound = bucket_bound(n, buckets);
        assert!(bound <= n && bound * u64::from(buckets) >= n);
        let hashes: Vec<u128> = (0..n)
            .map(|i| crate::join::vole::aeshash::hash_key(&i.to_le_bytes()))
            .collect();
        let mut counts = vec![0_u64; buckets as usize];
        for b in buckets_of(&hashes, buckets) {
            counts[b as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| c <= bound),
            "{n} in {buckets}: {counts:?} > {bound}"
        );
    }
    // About 6 % over the mean for 2^20 keys in 64 buckets, 3 % in 16.
    assert!(bucket_bound(1 << 20, 64) < (1 << 14) * 107 / 100);
    assert!(bucket_bound(1 << 20, 16) < (1 << 16) * 104 / 100);
    assert_eq!(bucket_bound(0, 8), 0);
    assert_eq!(bucket_bound(1000, 1), 1000);
}

#[test]
fn a_bucket_over_its_bound_is_refused() {
    let mut s = StreamSender::new(KeyKind::Text, 4).unwrap();
    s.begin(40).unwrap(); // bound well below the 400 keys given to bucket 0
    let hashes: Vec<u128> = (0..400_u128).collect();
    let err = s.setup_part(0, hashes).unwrap_err();
    assert!(format!("{err:?}").contains("buckets"), "{err:?}");
}

#[test]
fn parts_of_other_buckets_streams_and_sessions_are_refused() {
    let mut s = StreamSender::new(KeyKind::Text, 2).unwrap();
    let mut other = StreamSender::new(KeyKind::Text, 2).unwrap();
    let mut r = StreamReceiver::new(KeyKind::Text, 2).unwrap();
    for p in [&mut s, &mut other] {
        p.begin(10).unwrap();
    }
    assert!(r.request_part(b"", &[]).is_err(), "begin comes first");
    r.begin(10).unwrap();
    assert!(s.respond_part(b"ZPSV").is_err(), "no bucket open");
    assert!(s.setup_part(1, vec![]).is_err(), "bucket 1 before 0");
    let setup0 = s.setup_part(0, vec![1, 2, 3]).unwrap();
    assert!(s.setup_part(1, vec![]).is_err(), "bucket 0 is still open");
    let other0 = other.setup_part(0, vec![1]).unwrap();
    // A whole (in-memory) session refuses a part, and the other way round.
    let (xo, xd) = column(&keys(0..3));
    let mut whole = Receiver::new(
        StrColumn {
            offsets: &xo,
            data: &xd,
        },
        KeyKind::Text,
    )
    .unwrap();
    assert!(whole.request(&setup0).is_err());
    let mut whole_sender = Sender::new(
        StrColumn {
            offsets: &xo,
            data: &xd,
        },
        KeyKind::Text,
    )
    .unwrap();
    assert!(r
        .request_part(&whole_sender.setup_message().unwrap(), &[])
        .is_err());
    let request = r.request_part(&setup0, &[2, 9]).unwrap();
    assert!(
        r.request_part(&setup0, &[2]).is_err(),
        "one bucket at a time"
    );
    assert!(
        other.respond_part(&request).is_err(),
        "another stream's request"
    );
    let vole = s.respond_part(&request).unwrap();
    let correction = r.correction_part(&vole).unwrap();
    let response = s.respond_part(&correction).unwrap();
    assert_eq!(r.finish_part(&response).unwrap(), vec![0]);
    assert!(r.finish_part(&response).is_err(), "the bucket is closed");
    // Bucket 1 of another stream, then a setup of bucket 0 again.
    let other1 = {
        let q = r.request_part(&other0, &[]);
        assert!(q.is_err(), "bucket 0 again");
        let mut o2 = StreamSender::new(KeyKind::Text, 2).unwrap();
        o2.begin(10).unwrap();
        let z = o2.setup_part(0, vec![]).unwrap();
        // Rewrite its bucket number to 1: the stream id still differs.
        let mut z1 = z.clone();
        z1[HEADER_LEN + 16] = 1;
        z1
    };
    assert!(
        r.request_part(&other1, &[]).is_err(),
        "another stream's bucket 1"
    );
    let mut four = StreamReceiver::new(KeyKind::Text, 4).unwrap();
    four.begin(1).unwrap();
    assert!(
        four.request_part(&setup0, &[]).is_err(),
        "another bucket count"
    );
    let mut uscc = StreamReceiver::new(KeyKind::Uscc, 2).unwrap();
    uscc.begin(1).unwrap();
    assert!(uscc.request_part(&setup0, &[]).is_err(), "another key kind");
    let setup1 = s.setup_part(1, vec![]).unwrap();
    let request = r.request_part(&setup1, &[]).unwrap();
    let vole = s.respond_part(&request).unwrap();
    let correction = r.correction_part(&vole).unwrap();
    let response = s.respond_part(&correction).unwrap();
    assert!(r.finish_part(&response).unwrap().is_empty());
    assert!(s.is_complete() && r.is_complete());
    assert_eq!(r.sender_len(), 2 * bucket_bound(10, 2) as usize);
    assert_eq!(s.receiver_len(), 2 * bucket_bound(10, 2) as usize);
    assert!(s.setup_part(2, vec![]).is_err(), "no bucket 2");
}

#[test]
fn bad_keys_name_their_row_in_the_whole_input() {
    let s = StreamSender::new(KeyKind::Uscc, 2).unwrap();
    let (o, d) = column(&["9144030071526726XG".to_string(), "not a code".to_string()]);
    let err = s
        .hash_batch(
            StrColumn {
                offsets: &o,
                data: &d,
            },
            100,
        )
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("keys") && text.contains("101"), "{text}");
}
