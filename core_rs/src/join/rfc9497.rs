//! RFC 9497 (OPRFs using prime-order groups), suite `ristretto255-SHA512`, OPRF and VOPRF
//! modes, exactly as the RFC specifies them:
//!
//! - `contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || "ristretto255-SHA512"`;
//! - `HashToGroup` = `hash_to_ristretto255` (RFC 9380, `expand_message_xmd` with SHA-512)
//!   with DST `"HashToGroup-" || contextString`; `HashToScalar` with
//!   `"HashToScalar-" || contextString`; `DeriveKeyPair` with `"DeriveKeyPair" ||
//!   contextString`;
//! - `Finalize` = `SHA-512(I2OSP(len(input), 2) || input || I2OSP(len(unblinded), 2) ||
//!   unblinded || "Finalize")`;
//! - the VOPRF proof: `GenerateProof` / `VerifyProof` over `ComputeCompositesFast` /
//!   `ComputeComposites` with the `"Seed-"`, `"Composite"` and `"Challenge"` labels, any
//!   batch up to 2^16 elements (the composite index is `I2OSP(i, 2)`).
//!
//! Elements are ristretto255 encodings (32 bytes, canonical, never the identity), scalars
//! 32-byte little-endian canonical encodings. The private join uses the same functions on
//! whole batches through `group::hash_mul_compress_dst` and [`finalize_hash`].

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use sha2::{Digest, Sha512};

use super::dleq::{self, Transcript};
use super::group::decode_point;
use super::hash::{hash_to_group_dst, hash_to_scalar_dst};
use crate::error::{CoreError, CoreResult};

/// The suite's identifier.
pub const IDENTIFIER: &str = "ristretto255-SHA512";
/// Bytes of a serialised element (`Ne`) and scalar (`Ns`).
pub const ELEMENT_LEN: usize = 32;
pub const SCALAR_LEN: usize = 32;
/// Bytes of the output of `Finalize` (`Nh`).
pub const OUTPUT_LEN: usize = 64;
/// The longest input `Finalize` accepts (its length is encoded in 2 bytes).
pub const MAX_INPUT_LEN: usize = u16::MAX as usize;

/// The labels of one mode, all derived from its `contextString`.
#[derive(Debug)]
pub struct Labels {
    pub context: &'static [u8],
    pub hash_to_group: &'static [u8],
    pub hash_to_scalar: &'static [u8],
    pub derive_key_pair: &'static [u8],
    pub seed: &'static [u8],
}

macro_rules! labels {
    ($mode:literal) => {
        Labels {
            context: concat!("OPRFV1-", $mode, "-ristretto255-SHA512").as_bytes(),
            hash_to_group: concat!("HashToGroup-OPRFV1-", $mode, "-ristretto255-SHA512").as_bytes(),
            hash_to_scalar: concat!("HashToScalar-OPRFV1-", $mode, "-ristretto255-SHA512")
                .as_bytes(),
            derive_key_pair: concat!("DeriveKeyPairOPRFV1-", $mode, "-ristretto255-SHA512")
                .as_bytes(),
            seed: concat!("Seed-OPRFV1-", $mode, "-ristretto255-SHA512").as_bytes(),
        }
    };
}

static OPRF_LABELS: Labels = labels!("\x00");
static VOPRF_LABELS: Labels = labels!("\x01");

/// The RFC's VOPRF proof transcript for this suite.
pub const VOPRF_TRANSCRIPT: Transcript = Transcript {
    seed_dst: concat!("Seed-OPRFV1-", "\x01", "-ristretto255-SHA512").as_bytes(),
    h2s_dst: concat!("HashToScalar-OPRFV1-", "\x01", "-ristretto255-SHA512").as_bytes(),
    index_len: 2,
};

/// The RFC 9497 protocol variant (`modeOPRF = 0x00`, `modeVOPRF = 0x01`; POPRF is not
/// implemented).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RfcMode {
    Oprf,
    Voprf,
}

impl RfcMode {
    pub fn parse(name: &str) -> CoreResult<RfcMode> {
        match name {
            "oprf" => Ok(RfcMode::Oprf),
            "voprf" => Ok(RfcMode::Voprf),
            _ => Err(CoreError::invalid("mode", None, "must be oprf or voprf")),
        }
    }

    pub fn labels(self) -> &'static Labels {
        match self {
            RfcMode::Oprf => &OPRF_LABELS,
            RfcMode::Voprf => &VOPRF_LABELS,
        }
    }
}

fn check_len(bytes: &[u8], field: &str, max: usize) -> CoreResult<()> {
    if bytes.len() > max {
        return Err(CoreError::invalid(
            field,
            None,
            format!("at most {max} bytes, got {}", bytes.len()),
        ));
    }
    Ok(())
}

/// A canonical scalar encoding (32 bytes, little endian, below the group order).
pub fn scalar(bytes: &[u8], field: &str) -> CoreResult<Scalar> {
    let arr: [u8; SCALAR_LEN] = bytes.try_into().map_err(|_| {
        CoreError::invalid(
            field,
            None,
            format!("a scalar is {SCALAR_LEN} bytes, got {}", bytes.len()),
        )
    })?;
    Option::<Scalar>::from(Scalar::from_canonical_bytes(arr)).ok_or_else(|| {
        CoreError::invalid(
            field,
            None,
            "not a canonical scalar (at least the group order)",
        )
    })
}

/// A non-zero canonical scalar (a private key or a blind).
pub fn nonzero_scalar(bytes: &[u8], field: &str) -> CoreResult<Scalar> {
    let s = scalar(bytes, field)?;
    if s == Scalar::ZERO {
        return Err(CoreError::invalid(
            field,
            None,
            "the zero scalar is refused",
        ));
    }
    Ok(s)
}

/// A canonical element encoding, not the identity (`DeserializeElement`).
pub fn element(bytes: &[u8], field: &str, row: Option<usize>) -> CoreResult<RistrettoPoint> {
    decode_point(bytes, field, row.unwrap_or(0)).map_err(|e| match (e, row) {
        // Single elements are reported without a row.
        (CoreError::InvalidInput(v), None) => CoreError::InvalidInput(
            v.into_iter()
                .map(|mut x| {
                    x.row = None;
                    x
                })
                .collect(),
        ),
        (e, _) => e,
    })
}

/// `HashToGroup(input)` of `mode`, refusing the identity (RFC 9497 `Blind`'s check).
pub fn hash_to_group(mode: RfcMode, input: &[u8]) -> CoreResult<RistrettoPoint> {
    check_len(input, "input", MAX_INPUT_LEN)?;
    let p = hash_to_group_dst(input, mode.labels().hash_to_group)?;
    if p == RistrettoPoint::identity() {
        return Err(CoreError::invalid(
            "input",
            None,
            "hashes to the identity element",
        ));
    }
    Ok(p)
}

/// RFC 9497 §3.2.1 `DeriveKeyPair(seed, info)`: `(skS, pkS)`. `seed` is 32 bytes.
pub fn derive_key_pair(
    mode: RfcMode,
    seed: &[u8],
    info: &[u8],
) -> CoreResult<(Scalar, CompressedRistretto)> {
    if seed.len() != SCALAR_LEN {
        return Err(CoreError::invalid(
            "seed",
            None,
            format!("the seed is {SCALAR_LEN} bytes, got {}", seed.len()),
        ));
    }
    check_len(info, "info", MAX_INPUT_LEN)?;
    let info_len = (info.len() as u16).to_be_bytes();
    for counter in 0..=255_u8 {
        let sk = hash_to_scalar_dst(
            &[seed, &info_len, info, &[counter]],
            mode.labels().derive_key_pair,
        )?;
        if sk != Scalar::ZERO {
            return Ok((sk, RistrettoPoint::mul_base(&sk).compress()));
        }
    }
    Err(CoreError::invalid(
        "seed",
        None,
        "DeriveKeyPairError: no non-zero key within 256 counters",
    ))
}

/// RFC 9497 `Blind` with the blind given: `blind * HashToGroup(input)`.
pub fn blind(mode: RfcMode, input: &[u8], blind: &Scalar) -> CoreResult<CompressedRistretto> {
    Ok((hash_to_group(mode, input)? * blind).compress())
}

/// RFC 9497 `BlindEvaluate` (OPRF mode, and the evaluation part of VOPRF mode).
pub fn blind_evaluate(sk: &Scalar, blinded: &RistrettoPoint) -> CompressedRistretto {
    (blinded * sk).compress()
}

/// The hash of `Finalize` on an unblinded element: `SHA-512(I2OSP(len(input), 2) || input ||
/// I2OSP(32, 2) || unblinded || "Finalize")`. `input` must be at most [`MAX_INPUT_LEN`]
/// bytes (callers check; the join checks every key once).
pub fn finalize_hash(input: &[u8], unblinded: &CompressedRistretto) -> [u8; OUTPUT_LEN] {
    let mut h = Sha512::new();
    h.update((input.len() as u16).to_be_bytes());
    h.update(input);
    h.update((ELEMENT_LEN as u16).to_be_bytes());
    h.update(unblinded.as_bytes());
    h.update(b"Finalize");
    let mut out = [0_u8; OUTPUT_LEN];
    out.copy_from_slice(&h.finalize());
    out
}

/// RFC 9497 `Finalize(input, blind, evaluatedElement)` (OPRF and VOPRF modes; the VOPRF
/// proof is checked separately with [`verify_proof`]).
pub fn finalize(
    input: &[u8],
    blind: &Scalar,
    evaluated: &RistrettoPoint,
) -> CoreResult<[u8; OUTPUT_LEN]> {
    check_len(input, "input", MAX_INPUT_LEN)?;
    if *blind == Scalar::ZERO {
        return Err(CoreError::invalid(
            "blind_scalar",
            None,
            "the zero scalar is refused",
        ));
    }
    let n = (evaluated * blind.invert()).compress();
    Ok(finalize_hash(input, &n))
}

fn compressed(points: &[RistrettoPoint]) -> Vec<CompressedRistretto> {
    points.iter().map(RistrettoPoint::compress).collect()
}

/// RFC 9497 `GenerateProof(skS, G, pkS, blindedElements, evaluatedElements)` with the nonce
/// `r` given: `c || s`, 64 bytes.
pub fn generate_proof(
    sk: &Scalar,
    pk: &CompressedRistretto,
    blinded: &[RistrettoPoint],
    evaluated: &[RistrettoPoint],
    r: &Scalar,
) -> CoreResult<[u8; 64]> {
    check_batch(blinded, evaluated)?;
    if RistrettoPoint::mul_base(sk).compress() != *pk {
        return Err(CoreError::invalid(
            "pk",
            None,
            "is not the public key of sk",
        ));
    }
    dleq::prove_with_nonce(
        &VOPRF_TRANSCRIPT,
        sk,
        pk,
        blinded,
        &compressed(blinded),
        &compressed(evaluated),
        r,
    )
}

/// RFC 9497 `VerifyProof(G, pkS, blindedElements, evaluatedElements, proof)`: `Ok` when the
/// proof holds, `VerificationFailed` when it does not.
pub fn verify_proof(
    pk: &CompressedRistretto,
    blinded: &[RistrettoPoint],
    evaluated: &[RistrettoPoint],
    proof: &[u8],
) -> CoreResult<()> {
    check_batch(blinded, evaluated)?;
    if proof.len() != 2 * SCALAR_LEN {
        return Err(CoreError::invalid(
            "proof",
            None,
            format!("a proof is {} bytes, got {}", 2 * SCALAR_LEN, proof.len()),
        ));
    }
    scalar(&proof[..SCALAR_LEN], "proof")?;
    scalar(&proof[SCALAR_LEN..], "proof")?;
    dleq::verify(
        &VOPRF_TRANSCRIPT,
        pk,
        blinded,
        evaluated,
        &compressed(blinded),
        &compressed(evaluated),
        proof,
    )
}

fn check_batch(blinded: &[RistrettoPoint], evaluated: &[RistrettoPoint]) -> CoreResult<()> {
    if blinded.len() != evaluated.len() {
        return Err(CoreError::invalid(
            "evaluated",
            None,
            format!(
                "{} evaluated elements for {} blinded elements",
                evaluated.len(),
                blinded.len()
            ),
        ));
    }
    if blinded.is_empty() || blinded.len() > VOPRF_TRANSCRIPT.max_batch() {
        return Err(CoreError::invalid(
            "blinded",
            None,
            format!(
                "a batch holds 1 to {} elements, got {}",
                VOPRF_TRANSCRIPT.max_batch(),
                blinded.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
