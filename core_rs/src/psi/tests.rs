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
    let mut server = Server::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        payload,
        opts(mode, verifiable),
        1,
    )
    .unwrap();
    let mut client = Client::new(
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

fn pair(mode: Mode, verifiable: bool) -> (Server, Client) {
    let (so, sd) = column(&ids(0..50));
    let (co, cd) = column(&ids(25..75));
    let server = Server::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        opts(mode, verifiable),
        1,
    )
    .unwrap();
    let client = Client::new(
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
    assert!(Client::new(
        StrColumn {
            offsets: &o,
            data: &d
        },
        None,
        opts(Mode::Cardinality, true),
        false
    )
    .is_err());
    assert!(Server::new(
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
    let mut server = Server::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        opts(Mode::Sum, false),
        3,
    )
    .unwrap();
    let mut client = Client::new(
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
    let err = Client::new(
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

fn suite_opts(mode: Mode, verifiable: bool, suite: Suite) -> Options {
    Options {
        suite,
        ..opts(mode, verifiable)
    }
}

fn session(
    server_keys: &[String],
    client_keys: &[String],
    server: Options,
    client: Options,
) -> (Server, Client) {
    let (so, sd) = column(server_keys);
    let (co, cd) = column(client_keys);
    let s = Server::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        server,
        1,
    )
    .unwrap();
    let c = Client::new(
        StrColumn {
            offsets: &co,
            data: &cd,
        },
        None,
        client,
        false,
    )
    .unwrap();
    (s, c)
}

#[test]
fn every_suite_gives_the_plain_intersection() {
    let s = ids(0..300);
    let c = ids(150..500);
    let expect: Vec<i64> = (0..150).collect();
    for suite in [Suite::Rfc9497, Suite::ZoneOptV1] {
        for verifiable in [false, true] {
            let o = suite_opts(Mode::Intersection, verifiable, suite);
            let (mut server, mut client) = session(&s, &c, o, o);
            let setup = server.setup_message().unwrap();
            assert_eq!(setup[7] & wire::FLAG_RFC9497 != 0, suite == Suite::Rfc9497);
            let request = client.request(Some(&setup)).unwrap();
            let response = server.respond(&request).unwrap();
            let out = client.finish(&setup, &response).unwrap();
            assert_eq!(out.indices, expect, "{suite:?} verifiable={verifiable}");
        }
    }
    // The RFC suite is for the OPRF-based modes only.
    for mode in [Mode::Cardinality, Mode::Sum] {
        let (o, d) = column(&s);
        let col = StrColumn {
            offsets: &o,
            data: &d,
        };
        let err = Server::new(col, None, suite_opts(mode, false, Suite::Rfc9497), 1)
            .err()
            .unwrap();
        assert!(err.to_string().contains("suite"), "{err}");
    }
}

fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

fn elements(b: &[u8]) -> Vec<curve25519_dalek::RistrettoPoint> {
    b.chunks(32)
        .map(|c| rfc9497::element(c, "e", None).unwrap())
        .collect()
}

/// The verifiable join's messages are RFC 9497 VOPRF messages: the RFC's `VerifyProof`
/// accepts the sender's proof over the receiver's blinded elements and the evaluations.
#[test]
fn verifiable_join_messages_verify_with_the_rfc_functions() {
    let o = opts(Mode::Intersection, true);
    assert_eq!(o.suite, Suite::Rfc9497);
    let (mut server, mut client) = session(&ids(0..40), &ids(20..70), o, o);
    let setup = server.setup_message().unwrap();
    let request = client.request(None).unwrap();
    let response = server.respond(&request).unwrap();
    let h = wire::HEADER_LEN;
    let pk = CompressedRistretto::from_slice(&setup[h..h + 32]).unwrap();
    let n = u64_at(&request, h);
    assert_eq!(n, 50);
    let blinded = elements(&request[h + 8..h + 8 + 32 * n]);
    assert_eq!(u64_at(&response, h), n);
    let evaluated = elements(&response[h + 8..h + 8 + 32 * n]);
    let proof = &response[h + 8 + 32 * n..];
    assert_eq!(proof.len(), 64);
    rfc9497::verify_proof(&pk, &blinded, &evaluated, proof).unwrap();
    // The zone-opt transcript does not accept the RFC proof.
    let c: Vec<_> = blinded.iter().map(|p| p.compress()).collect();
    let d: Vec<_> = evaluated.iter().map(|p| p.compress()).collect();
    assert!(dleq::verify(&dleq::ZONE_OPT_V1, &pk, &blinded, &evaluated, &c, &d, proof).is_err());
    let out = client.finish(&setup, &response).unwrap();
    assert_eq!(out.indices, (0..20).collect::<Vec<i64>>());
}

/// A receiver not told a suite reads a setup in the previous release's format (and its
/// request then matches it); one told a suite refuses the other one.
#[test]
fn a_receiver_follows_the_setup_suite_unless_told_one() {
    let legacy = suite_opts(Mode::Labelled, true, Suite::ZoneOptV1);
    let rfc = suite_opts(Mode::Labelled, true, Suite::Rfc9497);
    let keys = ids(0..30);
    let vals: Vec<String> = keys.iter().map(|k| format!("v-{k}")).collect();
    for (server_opts, follow, ok) in [
        (legacy, true, true),
        (rfc, true, true),
        (legacy, false, false),
    ] {
        let (so, sd) = column(&keys);
        let mut server = Server::new(
            StrColumn {
                offsets: &so,
                data: &sd,
            },
            Some(payload_of(&vals)),
            server_opts,
            1,
        )
        .unwrap();
        let (co, cd) = column(&keys[10..]);
        let mut client = Client::new(
            StrColumn {
                offsets: &co,
                data: &cd,
            },
            None,
            rfc,
            false,
        )
        .unwrap();
        if follow {
            client.follow_setup_suite();
        }
        let setup = server.setup_message().unwrap();
        // A receiver told another suite refuses the setup itself (or the sender refuses
        // its request): either way no join runs across suites.
        let request = match client.request(Some(&setup)) {
            Ok(request) => request,
            Err(e) => {
                assert!(!ok, "{e}");
                assert!(e.to_string().contains("suite"), "{e}");
                continue;
            }
        };
        let response = server.respond(&request);
        assert_eq!(response.is_ok(), ok);
        if ok {
            assert_eq!(client.suite(), server_opts.suite);
            let out = client.finish(&setup, &response.unwrap()).unwrap();
            assert_eq!(out.indices, (0..20).collect::<Vec<i64>>());
        } else {
            let err = response.err().unwrap().to_string();
            assert!(err.contains("suite"), "{err}");
        }
    }
}

/// Responses carry one proof per `max_batch` evaluations (2^16 for the RFC transcript); a
/// tampered evaluation or proof in any part is refused.
#[test]
fn proofs_split_at_the_transcript_batch_limit() {
    use curve25519_dalek::{RistrettoPoint, Scalar};
    assert_eq!(protocol::proof_count(&rfc9497::VOPRF_TRANSCRIPT, 0), 1);
    assert_eq!(
        protocol::proof_count(&rfc9497::VOPRF_TRANSCRIPT, 1 << 16),
        1
    );
    assert_eq!(
        protocol::proof_count(&rfc9497::VOPRF_TRANSCRIPT, (1 << 16) + 1),
        2
    );
    assert_eq!(protocol::proof_count(&dleq::ZONE_OPT_V1, 1 << 20), 1);
    // A one-byte index: 256 items per proof, so 600 items take three proofs.
    let t = dleq::Transcript {
        seed_dst: b"Seed-test",
        h2s_dst: b"HashToScalar-test",
        index_len: 1,
    };
    let k = Scalar::from(987_654_321_u64);
    let pk = RistrettoPoint::mul_base(&k).compress();
    let points: Vec<RistrettoPoint> = (0..600_u64)
        .map(|i| RistrettoPoint::mul_base(&Scalar::from(i + 1)))
        .collect();
    let c: Vec<_> = points.iter().map(|p| p.compress()).collect();
    let mut evaluated: Vec<RistrettoPoint> = points.iter().map(|p| p * k).collect();
    let d: Vec<_> = evaluated.iter().map(|p| p.compress()).collect();
    let proofs = protocol::prove_all(&t, &k, &pk, &points, &c, &d).unwrap();
    assert_eq!(proofs.len(), 3 * 64);
    protocol::verify_all(&t, &pk, &points, &evaluated, &c, &d, &proofs).unwrap();
    let mut bad = proofs.clone();
    bad[64 + 40] ^= 1;
    assert!(protocol::verify_all(&t, &pk, &points, &evaluated, &c, &d, &bad).is_err());
    assert!(protocol::verify_all(&t, &pk, &points, &evaluated, &c, &d, &proofs[..128]).is_err());
    evaluated[550] = points[550] * (k + Scalar::ONE);
    let d: Vec<_> = evaluated.iter().map(|p| p.compress()).collect();
    assert!(protocol::verify_all(&t, &pk, &points, &evaluated, &c, &d, &proofs).is_err());
}

/// A labelled setup announcing column widths and a group size whose entry size overflows
/// is refused as invalid input naming the setup (it wrapped before, and panicked in debug
/// builds).
#[test]
fn labelled_setup_with_overflowing_entry_size_is_refused() {
    let keys: Vec<String> = vec!["A".into(), "B".into()];
    let (ko, kd) = column(&keys);
    let col = || StrColumn {
        offsets: &ko,
        data: &kd,
    };
    let payload = Payload {
        columns: vec![PayloadColumn {
            offsets: ko.clone(),
            data: kd.clone(),
            valid: None,
        }],
        schema: b"s".to_vec(),
    };
    let o = opts(Mode::Labelled, false);
    let mut server = Server::new(col(), Some(payload), o, 1).unwrap();
    let mut client = Client::new(col(), None, o, false).unwrap();
    let setup = server.setup_message().unwrap();
    let request = client.request(Some(&setup)).unwrap();
    let response = server.respond(&request).unwrap();
    // The genuine header, then: schema length 0, one column of width 2^32 - 1, groups of
    // 2^32 - 1 rows, and no table.
    let mut forged = setup[..wire::HEADER_LEN].to_vec();
    for v in [0_u32, 1, u32::MAX, u32::MAX] {
        forged.extend_from_slice(&v.to_le_bytes());
    }
    forged.extend_from_slice(&0_u64.to_le_bytes());
    let e = client.finish(&forged, &response).unwrap_err();
    assert!(
        matches!(&e, crate::CoreError::InvalidInput(v) if v[0].field == "setup"),
        "{e}"
    );
    assert!(e.to_string().contains("overflow"), "{e}");
}
