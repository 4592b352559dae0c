//! Tests of [`super`]: the VOLE PSI against plain set intersection, and its wire checks.

use super::*;
use std::collections::{BTreeSet, HashSet};

fn column(keys: &[String]) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for k in keys {
        data.extend_from_slice(k.as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

/// Run the five messages; return the receiver's rows and every message.
fn run(xs: &[String], ys: &[String]) -> (Vec<i64>, Vec<Vec<u8>>) {
    let (xo, xd) = column(xs);
    let (yo, yd) = column(ys);
    let mut s = Sender::new(
        StrColumn {
            offsets: &yo,
            data: &yd,
        },
        KeyKind::Text,
    )
    .unwrap();
    let mut c = Receiver::new(
        StrColumn {
            offsets: &xo,
            data: &xd,
        },
        KeyKind::Text,
    )
    .unwrap();
    let m1 = s.setup_message().unwrap();
    let m2 = c.request(&m1).unwrap();
    let m3 = s.respond(&m2).unwrap();
    let m4 = c.correction(&m3).unwrap();
    let m5 = s.respond(&m4).unwrap();
    let rows = c.finish(&m1, &m5).unwrap();
    let ys_distinct: BTreeSet<String> = ys.iter().map(|y| y.trim().to_uppercase()).collect();
    let xs_distinct: BTreeSet<String> = xs.iter().map(|x| x.trim().to_uppercase()).collect();
    assert_eq!(s.receiver_len(), xs_distinct.len());
    assert_eq!(c.sender_len(), ys_distinct.len());
    (rows, vec![m1, m2, m3, m4, m5])
}

fn expected(xs: &[String], ys: &[String]) -> Vec<i64> {
    let ys: BTreeSet<String> = ys.iter().map(|y| y.trim().to_uppercase()).collect();
    xs.iter()
        .enumerate()
        .filter(|(_, x)| ys.contains(&x.trim().to_uppercase()))
        .map(|(i, _)| i as i64)
        .collect()
}

fn keys(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("KEY-{i:08}")).collect()
}

#[test]
fn intersection_matches_plain_set_intersection() {
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (vec![], vec![]),
        (keys(0..10), vec![]),
        (vec![], keys(0..10)),
        (keys(0..1), keys(0..1)),
        (keys(0..500), keys(250..900)),
        (keys(0..300), keys(300..600)),
        (keys(0..3000), keys(0..3000)),
        (
            vec!["a".into(), "A ".into(), "b".into(), "a".into(), "é".into()],
            vec!["É".into(), "a".into(), "a".into(), "zz".into()],
        ),
        (keys(0..20_000), keys(15_000..40_000)),
    ];
    for (xs, ys) in cases {
        let (rows, _) = run(&xs, &ys);
        assert_eq!(
            rows,
            expected(&xs, &ys),
            "|X| = {}, |Y| = {}",
            xs.len(),
            ys.len()
        );
    }
}

#[test]
fn messages_carry_no_key_or_key_hash() {
    let xs = keys(0..2000);
    let ys = keys(1000..3000);
    let (_, msgs) = run(&xs, &ys);
    // Every key is 12 bytes; every key hash is checked by its first 8 bytes.
    let plain: HashSet<Vec<u8>> = xs
        .iter()
        .chain(&ys)
        .map(|k| k.as_bytes().to_vec())
        .collect();
    let hashed: HashSet<Vec<u8>> = xs
        .iter()
        .chain(&ys)
        .map(|k| hash_key(k.as_bytes()).to_le_bytes()[..8].to_vec())
        .collect();
    for m in &msgs {
        assert!(!m.windows(12).any(|w| plain.contains(w)), "a key appears");
        assert!(
            !m.windows(8).any(|w| hashed.contains(w)),
            "a key hash appears"
        );
    }
}

#[test]
fn out_of_order_truncated_and_foreign_messages_are_refused() {
    let (xo, xd) = column(&keys(0..100));
    let (yo, yd) = column(&keys(50..150));
    let xs = StrColumn {
        offsets: &xo,
        data: &xd,
    };
    let ys = StrColumn {
        offsets: &yo,
        data: &yd,
    };
    let mut s = Sender::new(ys, KeyKind::Text).unwrap();
    let mut c = Receiver::new(xs, KeyKind::Text).unwrap();
    let m1 = s.setup_message().unwrap();
    assert!(s.respond(&m1).is_err());
    assert!(c.request(&m1[..m1.len() - 1]).is_err());
    let mut v2 = m1.clone();
    v2[4] = 9;
    assert!(c.request(&v2).is_err());
    let mut uscc = Receiver::new(xs, KeyKind::Uscc);
    if let Ok(u) = uscc.as_mut() {
        assert!(u.request(&m1).is_err());
    }
    let m2 = c.request(&m1).unwrap();
    assert!(c.request(&m1).is_err(), "a second setup is refused");
    assert!(s.respond(&m2[..m2.len() - 16]).is_err());
    // A request for another session.
    let mut other = Sender::new(ys, KeyKind::Text).unwrap();
    other.setup_message().unwrap();
    assert!(other.respond(&m2).is_err());
    let m3 = s.respond(&m2).unwrap();
    assert!(s.respond(&m2).is_err(), "a second request is refused");
    let mut bad = m3.clone();
    bad.push(0);
    assert!(c.correction(&bad).is_err());
    assert!(c.correction(&m1).is_err(), "a setup is not a vole message");
    assert!(c.request(&m3).is_err(), "the request step is over");
    let m4 = c.correction(&m3).unwrap();
    assert!(
        c.correction(&m3).is_err(),
        "a second vole message is refused"
    );
    let mut huge = m4.clone();
    huge.truncate(HEADER_LEN + 10);
    assert!(s.respond(&huge).is_err());
    let m5 = s.respond(&m4).unwrap();
    let mut short = m5.clone();
    short.pop();
    assert!(c.finish(&m1, &short).is_err());
    assert_eq!(c.finish(&m1, &m5).unwrap(), (50..100).collect::<Vec<i64>>());
    assert!(c.finish(&m1, &m5).is_err(), "finish runs once");
}

#[test]
fn tag_length_covers_sigma_and_both_sizes() {
    assert_eq!(tag_len(0, 0), 6); // 40 + 1 + 1 bits
    assert_eq!(tag_len(1 << 20, 1 << 20), 10);
    assert_eq!(tag_len(1 << 32, 1 << 32), 13);
}

#[test]
fn an_announced_size_above_the_bound_is_refused_before_any_work() {
    let (yo, yd) = column(&keys(0..10));
    let (xo, xd) = column(&keys(0..10));
    let mut s = Sender::new(
        StrColumn {
            offsets: &yo,
            data: &yd,
        },
        KeyKind::Text,
    )
    .unwrap();
    let mut c = Receiver::new(
        StrColumn {
            offsets: &xo,
            data: &xd,
        },
        KeyKind::Text,
    )
    .unwrap();
    let m1 = s.setup_message().unwrap();
    let mut m2 = c.request(&m1).unwrap();
    m2[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&(MAX_SET + 1).to_le_bytes());
    assert!(s.respond(&m2).is_err());
    let mut big = m1.clone();
    big[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut c2 = Receiver::new(
        StrColumn {
            offsets: &xo,
            data: &xd,
        },
        KeyKind::Text,
    )
    .unwrap();
    assert!(c2.request(&big).is_err());
}

#[test]
fn message_sizes_stay_within_the_budget() {
    // The fixed cost (base OTs, about 57k correlated OTs for 400 noise positions, about
    // 0.9 MB) is still large at 2^15; the per-element part is the OKVS (1.11 x 16 B)
    // and one tag (7-10 B).
    let n = 1 << 15;
    let (_, msgs) = run(&keys(0..n), &keys(n / 2..n + n / 2));
    let total: usize = msgs.iter().map(Vec::len).sum();
    assert!(total < 60 * n, "{} bytes per element", total / n);
    let per_element = msgs[3].len() + msgs[4].len();
    assert!(
        per_element < 28 * n,
        "{} bytes per element",
        per_element / n
    );
}
