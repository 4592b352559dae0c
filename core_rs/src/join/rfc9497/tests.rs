//! Every RFC 9497 Appendix A test vector of `ristretto255-SHA512` in OPRF mode (A.1.1) and
//! VOPRF mode (A.1.2), batch sizes 1 and 2, through this module's functions and through the
//! join's batched group operations (multi-buffer path on IFMA CPUs, dalek's with
//! `ZONE_OPT_JOIN_SIMD=0`).
//!
//! Test-vector data copied from RFC 9497 Appendix A (also published as
//! `poc/vectors/allVectors.json` in github.com/cfrg/draft-irtf-cfrg-voprf).

use super::*;
use crate::join::group::{decode_mul_compress, hash_mul_compress_dst};

const SEED: &str = "a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3";
const KEY_INFO: &str = "74657374206b6579";
const BLIND: &str = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706";

struct Vector {
    inputs: &'static [&'static str],
    blinds: &'static [&'static str],
    blinded: &'static [&'static str],
    evaluated: &'static [&'static str],
    outputs: &'static [&'static str],
    /// VOPRF: (r, proof).
    proof: Option<(&'static str, &'static str)>,
}

const OPRF_SK: &str = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e";

const OPRF: [Vector; 2] = [
    Vector {
        inputs: &["00"],
        blinds: &[BLIND],
        blinded: &["609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c"],
        evaluated: &["7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e"],
        outputs: &["527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6"],
        proof: None,
    },
    Vector {
        inputs: &["5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"],
        blinds: &[BLIND],
        blinded: &["da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418"],
        evaluated: &["b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25"],
        outputs: &["f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73"],
        proof: None,
    },
];

const VOPRF_SK: &str = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909";
const VOPRF_PK: &str = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e";
const PROOF_R: &str = "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e";

const VOPRF: [Vector; 3] = [
    Vector {
        inputs: &["00"],
        blinds: &[BLIND],
        blinded: &["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
        evaluated: &["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
        outputs: &["b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"],
        proof: Some((PROOF_R, "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd066d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d")),
    },
    Vector {
        inputs: &["5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"],
        blinds: &[BLIND],
        blinded: &["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
        evaluated: &["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
        outputs: &["8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"],
        proof: Some((PROOF_R, "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02")),
    },
    Vector {
        inputs: &["00", "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"],
        blinds: &[BLIND, "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"],
        blinded: &[
            "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
            "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        ],
        evaluated: &[
            "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
            "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        ],
        outputs: &[
            "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
            "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
        ],
        proof: Some(("419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c", "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08")),
    },
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sc(s: &str) -> Scalar {
    scalar(&unhex(s), "scalar").unwrap()
}

fn el(s: &str) -> RistrettoPoint {
    element(&unhex(s), "element", None).unwrap()
}

/// Run one vector through the RFC functions; returns the proof when VOPRF.
fn check(mode: RfcMode, sk_hex: &str, v: &Vector) -> Option<[u8; 64]> {
    let (sk, pk) = derive_key_pair(mode, &unhex(SEED), &unhex(KEY_INFO)).unwrap();
    assert_eq!(hex(sk.as_bytes()), sk_hex);
    let mut blinded = Vec::new();
    let mut evaluated = Vec::new();
    for i in 0..v.inputs.len() {
        let input = unhex(v.inputs[i]);
        let b = blind(mode, &input, &sc(v.blinds[i])).unwrap();
        assert_eq!(hex(b.as_bytes()), v.blinded[i], "BlindedElement {i}");
        let e = blind_evaluate(&sk, &el(v.blinded[i]));
        assert_eq!(hex(e.as_bytes()), v.evaluated[i], "EvaluationElement {i}");
        let out = finalize(&input, &sc(v.blinds[i]), &el(v.evaluated[i])).unwrap();
        assert_eq!(hex(&out), v.outputs[i], "Output {i}");
        blinded.push(el(v.blinded[i]));
        evaluated.push(el(v.evaluated[i]));
    }
    let (r, expect) = v.proof?;
    assert_eq!(hex(pk.as_bytes()), VOPRF_PK);
    let proof = generate_proof(&sk, &pk, &blinded, &evaluated, &sc(r)).unwrap();
    assert_eq!(hex(&proof), expect, "Proof");
    verify_proof(&pk, &blinded, &evaluated, &unhex(expect)).unwrap();
    Some(proof)
}

#[test]
fn rfc9497_a_1_1_oprf_vectors() {
    assert_eq!(
        RfcMode::Oprf.labels().hash_to_group,
        unhex("48617368546f47726f75702d4f50524656312d002d72697374726574746f3235352d534841353132")
    );
    for v in &OPRF {
        assert!(check(RfcMode::Oprf, OPRF_SK, v).is_none());
    }
}

#[test]
fn rfc9497_a_1_2_voprf_vectors() {
    assert_eq!(
        RfcMode::Voprf.labels().hash_to_group,
        unhex("48617368546f47726f75702d4f50524656312d012d72697374726574746f3235352d534841353132")
    );
    for v in &VOPRF {
        assert!(check(RfcMode::Voprf, VOPRF_SK, v).is_some());
    }
}

/// The batched operations the join runs (multi-buffer or dalek) give the vectors' bytes.
#[test]
fn rfc9497_vectors_through_the_batched_group_operations() {
    for (mode, sk_hex, vectors) in [
        (RfcMode::Oprf, OPRF_SK, &OPRF[..]),
        (RfcMode::Voprf, VOPRF_SK, &VOPRF[..]),
    ] {
        let sk = sc(sk_hex);
        for v in vectors {
            for i in 0..v.inputs.len() {
                // Eight copies exercise every lane of the multi-buffer path.
                let inputs = vec![unhex(v.inputs[i]); 9];
                let dst = mode.labels().hash_to_group;
                let blinded = hash_mul_compress_dst(&inputs, &sc(v.blinds[i]), dst).unwrap();
                assert!(blinded.iter().all(|b| hex(b.as_bytes()) == v.blinded[i]));
                let bytes: Vec<u8> = blinded.iter().flat_map(|b| b.to_bytes()).collect();
                let evaluated = decode_mul_compress(&bytes, &sk, "blinded").unwrap();
                assert!(evaluated
                    .iter()
                    .all(|e| hex(e.as_bytes()) == v.evaluated[i]));
                let ev: Vec<u8> = evaluated.iter().flat_map(|e| e.to_bytes()).collect();
                let unblind = sc(v.blinds[i]).invert();
                let u = decode_mul_compress(&ev, &unblind, "evaluated").unwrap();
                assert_eq!(hex(&finalize_hash(&inputs[0], &u[0])), v.outputs[i]);
            }
        }
    }
}

#[test]
fn tampered_proofs_and_evaluations_are_refused() {
    let sk = sc(VOPRF_SK);
    let pk = CompressedRistretto(unhex(VOPRF_PK).try_into().unwrap());
    let v = &VOPRF[2];
    let blinded: Vec<_> = v.blinded.iter().map(|b| el(b)).collect();
    let evaluated: Vec<_> = v.evaluated.iter().map(|e| el(e)).collect();
    let proof = unhex(v.proof.unwrap().1);
    verify_proof(&pk, &blinded, &evaluated, &proof).unwrap();
    // Every single-bit flip of the proof is refused (as a failed proof or a bad scalar).
    for byte in 0..64 {
        let mut bad = proof.clone();
        bad[byte] ^= 1;
        assert!(
            verify_proof(&pk, &blinded, &evaluated, &bad).is_err(),
            "byte {byte}"
        );
    }
    // An evaluation under another key, swapped evaluations, another public key.
    let mut other = evaluated.clone();
    other[1] = blinded[1] * (sk + Scalar::ONE);
    let err = verify_proof(&pk, &blinded, &other, &proof).unwrap_err();
    assert!(matches!(err, CoreError::VerificationFailed(_)));
    let swapped = vec![evaluated[1], evaluated[0]];
    assert!(verify_proof(&pk, &blinded, &swapped, &proof).is_err());
    let pk2 = RistrettoPoint::mul_base(&(sk + Scalar::ONE)).compress();
    assert!(verify_proof(&pk2, &blinded, &evaluated, &proof).is_err());
    // A batch-1 proof does not verify the batch of 2, nor the reverse.
    let single = unhex(VOPRF[0].proof.unwrap().1);
    assert!(verify_proof(&pk, &blinded, &evaluated, &single).is_err());
    assert!(verify_proof(&pk, &blinded[..1], &evaluated[..1], &proof).is_err());
}

#[test]
fn bad_inputs_name_their_parameter() {
    let field = |e: CoreError| match e {
        CoreError::InvalidInput(v) => v[0].field.clone(),
        other => panic!("{other}"),
    };
    assert_eq!(
        field(derive_key_pair(RfcMode::Oprf, &[0; 31], b"").unwrap_err()),
        "seed"
    );
    assert_eq!(
        field(scalar(&[0xff; 32], "blind_scalar").unwrap_err()),
        "blind_scalar"
    );
    assert_eq!(field(nonzero_scalar(&[0; 32], "sk").unwrap_err()), "sk");
    assert_eq!(
        field(element(&[0; 32], "blinded", None).unwrap_err()),
        "blinded"
    );
    let mut p = [0xff_u8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    assert_eq!(
        field(element(&p, "evaluated", Some(1)).unwrap_err()),
        "evaluated"
    );
    let long = vec![0_u8; MAX_INPUT_LEN + 1];
    assert_eq!(
        field(blind(RfcMode::Oprf, &long, &Scalar::ONE).unwrap_err()),
        "input"
    );
    assert_eq!(
        field(finalize(b"x", &Scalar::ZERO, &el(VOPRF[0].evaluated[0])).unwrap_err()),
        "blind_scalar"
    );
    let pk = CompressedRistretto(unhex(VOPRF_PK).try_into().unwrap());
    let b = [el(VOPRF[0].blinded[0])];
    assert_eq!(
        field(verify_proof(&pk, &b, &[], &[0; 64]).unwrap_err()),
        "evaluated"
    );
    assert_eq!(
        field(verify_proof(&pk, &b, &b, &[0; 63]).unwrap_err()),
        "proof"
    );
    assert_eq!(
        field(generate_proof(&sc(OPRF_SK), &pk, &b, &b, &Scalar::ONE).unwrap_err()),
        "pk"
    );
}
