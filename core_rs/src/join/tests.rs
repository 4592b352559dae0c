//! Protocol tests against plain set computations, and the security checks.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::ristretto::CompressedRistretto;
use proptest::prelude::*;

use super::*;

/// Offsets and bytes of `keys` as one Arrow-style string column (shared with `stream`).
pub(super) fn column(keys: &[String]) -> (Vec<i64>, Vec<u8>) {
    let mut offsets = vec![0_i64];
    let mut data = Vec::new();
    for k in keys {
        data.extend_from_slice(k.as_bytes());
        offsets.push(data.len() as i64);
    }
    (offsets, data)
}

fn opts(mode: Mode, verifiable: bool) -> Options {
    Options {
        mode,
        verifiable,
        key_kind: KeyKind::Text,
        suite: Suite::default_for(verifiable),
    }
}

fn canon(k: &str) -> String {
    k.trim().to_uppercase()
}

struct Run {
    setup: Vec<u8>,
    request: Vec<u8>,
    response: Vec<u8>,
    outcome: Outcome,
}

fn run(
    server_keys: &[String],
    client_keys: &[String],
    mode: Mode,
    verifiable: bool,
    payload: Option<Payload>,
    values: Option<&[u64]>,
    left: bool,
) -> Run {
    let (so, sd) = column(server_keys);
    let (co, cd) = column(client_keys);
    let mut server = Sender::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        payload,
        opts(mode, verifiable),
        1,
    )
    .unwrap();
    let mut client = Receiver::new(
        StrColumn {
            offsets: &co,
            data: &cd,
        },
        values,
        opts(mode, verifiable),
        left,
    )
    .unwrap();
    let setup = server.setup_message().unwrap();
    let request = client.request(Some(&setup)).unwrap();
    let response = server.respond(&request).unwrap();
    let outcome = client.finish(&setup, &response).unwrap();
    Run {
        setup,
        request,
        response,
        outcome,
    }
}

fn plain_indices(server_keys: &[String], client_keys: &[String]) -> Vec<i64> {
    let set: BTreeSet<String> = server_keys.iter().map(|k| canon(k)).collect();
    client_keys
        .iter()
        .enumerate()
        .filter(|(_, k)| set.contains(&canon(k)))
        .map(|(i, _)| i as i64)
        .collect()
}

fn payload_of(values: &[String]) -> Payload {
    let (offsets, data) = column(values);
    Payload {
        columns: vec![PayloadColumn {
            offsets,
            data,
            valid: None,
        }],
        schema: b"v:string".to_vec(),
    }
}

/// Decode the single payload column of labelled records.
fn record_values(o: &Outcome) -> Vec<Option<String>> {
    o.records
        .chunks(o.record_len)
        .map(|r| {
            let mut l = [0_u8; 4];
            l.copy_from_slice(&r[1..5]);
            let len = u32::from_le_bytes(l) as usize;
            (r[0] == 1).then(|| String::from_utf8(r[5..5 + len].to_vec()).unwrap())
        })
        .collect()
}

fn keys_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof!["[a-e]{1,2}", " ?[A-E]{1,2} ?", "[é中ß]{1,2}",],
        0..30,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn intersection_equals_plain(s in keys_strategy(), c in keys_strategy()) {
        let r = run(&s, &c, Mode::Intersection, false, None, None, false);
        prop_assert_eq!(r.outcome.indices, plain_indices(&s, &c));
    }

    #[test]
    fn cardinality_equals_plain(s in keys_strategy(), c in keys_strategy()) {
        let r = run(&s, &c, Mode::Cardinality, false, None, None, false);
        let a: BTreeSet<String> = s.iter().map(|k| canon(k)).collect();
        let b: BTreeSet<String> = c.iter().map(|k| canon(k)).collect();
        prop_assert_eq!(r.outcome.count, Some(a.intersection(&b).count() as u64));
    }

    #[test]
    fn labelled_join_equals_plain(s in keys_strategy(), c in keys_strategy(), left in any::<bool>()) {
        let vals: Vec<String> = (0..s.len()).map(|i| format!("v{i}")).collect();
        let r = run(&s, &c, Mode::Labelled, true, Some(payload_of(&vals)), None, left);
        // Plain join: for each client row in order, every server row with the same key.
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in s.iter().zip(&vals) {
            groups.entry(canon(k)).or_default().push(v.clone());
        }
        let mut want_idx = Vec::new();
        let mut want_val = Vec::new();
        for (i, k) in c.iter().enumerate() {
            match groups.get(&canon(k)) {
                Some(vs) => for v in vs { want_idx.push(i as i64); want_val.push(Some(v.clone())); },
                None if left => { want_idx.push(i as i64); want_val.push(None); }
                None => {}
            }
        }
        prop_assert_eq!(&r.outcome.indices, &want_idx);
        prop_assert_eq!(record_values(&r.outcome), want_val);
    }

    #[test]
    fn sum_equals_plain(s in keys_strategy(), c in keys_strategy(), seed in 0_u64..1000) {
        let values: Vec<u64> = (0..c.len() as u64).map(|i| (i * 7919 + seed) % 1000).collect();
        let set: BTreeSet<String> = s.iter().map(|k| canon(k)).collect();
        let want_sum: u64 = c.iter().zip(&values).filter(|(k, _)| set.contains(&canon(k))).map(|(_, v)| v).sum();
        let cs: BTreeSet<String> = c.iter().map(|k| canon(k)).collect();
        let want_count = set.intersection(&cs).count() as u64;
        let r = run(&s, &c, Mode::Sum, false, None, Some(&values), false);
        if want_count >= 1 {
            prop_assert_eq!(r.outcome.count, Some(want_count));
            prop_assert_eq!(r.outcome.sum, Some(want_sum));
        } else {
            prop_assert_eq!(r.outcome.sum, None);
        }
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("ID{i:06}")).collect()
}

#[test]
fn message_sizes_are_76_bytes_per_element_plus_headers() {
    let r = run(
        &ids(0..1000),
        &ids(500..1500),
        Mode::Intersection,
        false,
        None,
        None,
        false,
    );
    assert_eq!(r.outcome.indices, (0..500).collect::<Vec<i64>>());
    assert_eq!(r.setup.len(), 40 + 8 + 12 * 1000);
    assert_eq!(r.request.len(), 40 + 8 + 32 * 1000);
    assert_eq!(r.response.len(), 40 + 8 + 32 * 1000);
}

#[test]
fn no_sender_bytes_equal_a_plain_hash_of_a_key() {
    use sha2::{Digest, Sha256, Sha512};
    let keys = ids(0..200);
    let vals: Vec<String> = keys.iter().map(|k| format!("secret-{k}")).collect();
    let r = run(
        &keys,
        &keys,
        Mode::Labelled,
        true,
        Some(payload_of(&vals)),
        None,
        false,
    );
    for k in &keys {
        let hashes = [
            Sha256::digest(k.as_bytes()).to_vec(),
            Sha512::digest(k.as_bytes()).to_vec(),
            hash::hash_to_group(k.as_bytes())
                .unwrap()
                .compress()
                .to_bytes()
                .to_vec(),
        ];
        for h in hashes {
            for msg in [&r.setup, &r.response] {
                assert!(
                    !msg.windows(8).any(|w| w == &h[..8]),
                    "hash prefix of {k} in a sender message"
                );
            }
        }
        assert!(!r.setup.windows(k.len()).any(|w| w == k.as_bytes()));
        assert!(!r.setup.windows(6).any(|w| w == b"secret"));
    }
}

fn pair(mode: Mode, verifiable: bool) -> (Sender, Receiver) {
    let (so, sd) = column(&ids(0..50));
    let (co, cd) = column(&ids(25..75));
    let server = Sender::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        opts(mode, verifiable),
        1,
    )
    .unwrap();
    let client = Receiver::new(
        StrColumn {
            offsets: &co,
            data: &cd,
        },
        None,
        opts(mode, verifiable),
        false,
    )
    .unwrap();
    (server, client)
}

#[test]
fn tampered_evaluation_fails_the_dleq_check() {
    let (mut server, mut client) = pair(Mode::Intersection, true);
    let setup = server.setup_message().unwrap();
    let request = client.request(None).unwrap();
    let mut response = server.respond(&request).unwrap();
    // Replace evaluation 3 by another valid point (the basepoint times 7).
    let other = curve25519_dalek::ristretto::RistrettoPoint::mul_base(
        &curve25519_dalek::scalar::Scalar::from(7_u64),
    );
    let at = 40 + 8 + 3 * 32;
    response[at..at + 32].copy_from_slice(other.compress().as_bytes());
    let err = client.finish(&setup, &response).unwrap_err();
    assert!(
        matches!(err, crate::CoreError::VerificationFailed(_)),
        "{err}"
    );
}

#[test]
fn malformed_points_truncation_sessions_and_replays_are_refused() {
    let (mut server, mut client) = pair(Mode::Intersection, false);
    let setup = server.setup_message().unwrap();
    let request = client.request(None).unwrap();
    // Malformed point in the request.
    let mut bad = request.clone();
    bad[48..80].copy_from_slice(&[0xff; 32]);
    assert!(server
        .respond(&bad)
        .unwrap_err()
        .to_string()
        .contains("canonical"));
    // Identity point.
    let mut ident = request.clone();
    ident[48..80].copy_from_slice(&[0; 32]);
    assert!(server
        .respond(&ident)
        .unwrap_err()
        .to_string()
        .contains("identity"));
    // Truncated.
    assert!(server
        .respond(&request[..request.len() - 5])
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    let response = server.respond(&request).unwrap();
    // Replayed request.
    assert!(server
        .respond(&request)
        .unwrap_err()
        .to_string()
        .contains("replay"));
    // Wrong sender session: a setup from another server.
    let (mut other, _) = pair(Mode::Intersection, false);
    let other_setup = other.setup_message().unwrap();
    assert!(client
        .finish(&other_setup, &response)
        .unwrap_err()
        .to_string()
        .contains("session"));
    // A response for another client.
    let (_, mut c2) = pair(Mode::Intersection, false);
    c2.request(None).unwrap();
    assert!(c2
        .finish(&setup, &response)
        .unwrap_err()
        .to_string()
        .contains("session"));
    // Truncated response, then the real one, then a replay.
    assert!(client.finish(&setup, &response[..60]).is_err());
    assert_eq!(client.finish(&setup, &response).unwrap().indices.len(), 25);
    assert!(client
        .finish(&setup, &response)
        .unwrap_err()
        .to_string()
        .contains("replay"));
}

#[test]
fn mode_mismatch_and_bad_options_are_refused() {
    let (mut server, _) = pair(Mode::Intersection, false);
    let (_, mut client) = pair(Mode::Cardinality, false);
    let req = client.request(None).unwrap();
    assert!(server
        .respond(&req)
        .unwrap_err()
        .to_string()
        .contains("mode"));
    let (o, d) = column(&ids(0..3));
    assert!(Receiver::new(
        StrColumn {
            offsets: &o,
            data: &d
        },
        None,
        opts(Mode::Cardinality, true),
        false
    )
    .is_err());
    assert!(Sender::new(
        StrColumn {
            offsets: &o,
            data: &d
        },
        None,
        opts(Mode::Labelled, false),
        1
    )
    .is_err());
}

#[test]
fn sum_below_threshold_is_withheld() {
    let (so, sd) = column(&ids(0..10));
    let (co, cd) = column(&ids(8..20));
    let values: Vec<u64> = (0..12).collect();
    let mut server = Sender::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        opts(Mode::Sum, false),
        3,
    )
    .unwrap();
    let mut client = Receiver::new(
        StrColumn {
            offsets: &co,
            data: &cd,
        },
        Some(&values),
        opts(Mode::Sum, false),
        false,
    )
    .unwrap();
    let setup = server.setup_message().unwrap();
    let request = client.request(Some(&setup)).unwrap();
    let response = server.respond(&request).unwrap();
    let out = client.finish(&setup, &response).unwrap();
    assert_eq!((out.count, out.sum), (None, None));
}

#[test]
fn uscc_keys_are_checked() {
    let (o, d) = column(&["9144030071526726XH".to_string()]);
    let options = Options {
        mode: Mode::Intersection,
        verifiable: false,
        key_kind: KeyKind::Uscc,
        suite: Suite::ZoneOptV1,
    };
    let err = Receiver::new(
        StrColumn {
            offsets: &o,
            data: &d,
        },
        None,
        options,
        false,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("check character"));
}

mod suites;
