//! Hash suites: every suite gives the plain intersection, RFC 9497 messages verify with
//! the RFC's functions, proofs split at the transcript limit, setup entry sizes checked.

use super::*;

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
) -> (Sender, Receiver) {
    let (so, sd) = column(server_keys);
    let (co, cd) = column(client_keys);
    let s = Sender::new(
        StrColumn {
            offsets: &so,
            data: &sd,
        },
        None,
        server,
        1,
    )
    .unwrap();
    let c = Receiver::new(
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
        let err = Sender::new(col, None, suite_opts(mode, false, Suite::Rfc9497), 1)
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
        let mut server = Sender::new(
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
        let mut client = Receiver::new(
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
    let mut server = Sender::new(col(), Some(payload), o, 1).unwrap();
    let mut client = Receiver::new(col(), None, o, false).unwrap();
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
