//! Batched DLEQ proof of RFC 9497 §2.2 (the VOPRF proof): the sender proves that every
//! evaluation `D_i = k * C_i` uses the key behind its published `K = k * G`, with one
//! 64-byte proof for the whole batch.
//!
//! The structure is RFC 9497's (`ComputeCompositesFast` for the prover, `ComputeComposites`
//! for the verifier, then a Schnorr-style proof on the composites); a [`Transcript`] names
//! the labels. [`rfc9497::VOPRF_TRANSCRIPT`](super::rfc9497) is the RFC's exactly (2-byte
//! item index, so at most 2^16 items per proof); [`ZONE_OPT_V1`] is the older zone-opt
//! format (8-byte index, zone-opt's domain-separation tags), still read for one release.
//! The composite sums use `vartime` multiscalar multiplication: their inputs are public.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use rayon::prelude::*;
use sha2::{Digest, Sha512};

use super::group::{SecretScalar, BATCH};
use super::hash::{hash_to_scalar_dst, DST_H2S};
use crate::error::{CoreError, CoreResult};

/// The labels of a DLEQ proof's transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcript {
    /// `seedDST` of `ComputeComposites` (RFC 9497: `"Seed-" || contextString`).
    pub seed_dst: &'static [u8],
    /// The DST of `HashToScalar` (RFC 9497: `"HashToScalar-" || contextString`).
    pub h2s_dst: &'static [u8],
    /// Bytes of the item index `I2OSP(i, index_len)` in each composite transcript.
    pub index_len: usize,
}

impl Transcript {
    /// The largest batch one proof covers: the index must fit in `index_len` bytes.
    pub fn max_batch(&self) -> usize {
        if self.index_len >= 8 {
            usize::MAX
        } else {
            1_usize << (8 * self.index_len)
        }
    }
}

/// zone-opt's transcript before RFC 9497 (8-byte index, zone-opt DSTs).
pub const ZONE_OPT_V1: Transcript = Transcript {
    seed_dst: b"Seed-ZONE-OPT-PSI-V1-ristretto255-SHA512",
    h2s_dst: DST_H2S,
    index_len: 8,
};

fn lp(len: usize) -> [u8; 2] {
    (len as u16).to_be_bytes()
}

/// The composite weights `d_i`, one per (C_i, D_i) pair.
fn weights(
    t: &Transcript,
    pk: &CompressedRistretto,
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
) -> CoreResult<Vec<Scalar>> {
    if c.len() != d.len() || c.len() > t.max_batch() {
        return Err(CoreError::invalid(
            "evaluated",
            None,
            format!(
                "a proof covers as many evaluations as blinded elements, at most {}",
                t.max_batch()
            ),
        ));
    }
    let mut h = Sha512::new();
    h.update(lp(32));
    h.update(pk.as_bytes());
    h.update(lp(t.seed_dst.len()));
    h.update(t.seed_dst);
    let seed = h.finalize();
    c.par_iter()
        .zip(d.par_iter())
        .enumerate()
        .with_min_len(BATCH)
        .map(|(i, (ci, di))| {
            let index = (i as u64).to_be_bytes();
            hash_to_scalar_dst(
                &[
                    &lp(64),
                    &seed,
                    &index[8 - t.index_len..],
                    &lp(32),
                    ci.as_bytes(),
                    &lp(32),
                    di.as_bytes(),
                    b"Composite",
                ],
                t.h2s_dst,
            )
        })
        .collect()
}

fn multiscalar(weights: &[Scalar], points: &[RistrettoPoint]) -> RistrettoPoint {
    weights
        .par_chunks(BATCH)
        .zip(points.par_chunks(BATCH))
        .map(|(w, p)| RistrettoPoint::vartime_multiscalar_mul(w, p))
        .reduce(RistrettoPoint::identity, |a, b| a + b)
}

fn challenge(
    t: &Transcript,
    pk: &CompressedRistretto,
    m: &RistrettoPoint,
    z: &RistrettoPoint,
    t2: &RistrettoPoint,
    t3: &RistrettoPoint,
) -> CoreResult<Scalar> {
    let (m, z, t2, t3) = (m.compress(), z.compress(), t2.compress(), t3.compress());
    hash_to_scalar_dst(
        &[
            &lp(32),
            pk.as_bytes(),
            &lp(32),
            m.as_bytes(),
            &lp(32),
            z.as_bytes(),
            &lp(32),
            t2.as_bytes(),
            &lp(32),
            t3.as_bytes(),
            b"Challenge",
        ],
        t.h2s_dst,
    )
}

/// Prove `D_i = k * C_i` for all i with a fresh random nonce; `c_points` are the decoded
/// `C_i`.
pub fn prove(
    t: &Transcript,
    k: &Scalar,
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
) -> CoreResult<[u8; 64]> {
    let r = SecretScalar::random()?;
    prove_with_nonce(t, k, pk, c_points, c, d, &r.0)
}

/// RFC 9497 `GenerateProof` with the nonce `r` given (test vectors fix it; the protocol
/// draws it at random through [`prove`]).
pub fn prove_with_nonce(
    t: &Transcript,
    k: &Scalar,
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
    r: &Scalar,
) -> CoreResult<[u8; 64]> {
    if c_points.len() != c.len() {
        return Err(CoreError::Internal(
            "DLEQ: decoded and encoded blinded elements differ in number".into(),
        ));
    }
    let w = weights(t, pk, c, d)?;
    let m = multiscalar(&w, c_points);
    let z = m * k;
    let t2 = RistrettoPoint::mul_base(r);
    let t3 = m * r;
    let ch = challenge(t, pk, &m, &z, &t2, &t3)?;
    let s = r - ch * k;
    let mut proof = [0_u8; 64];
    proof[..32].copy_from_slice(ch.as_bytes());
    proof[32..].copy_from_slice(s.as_bytes());
    Ok(proof)
}

/// Check a proof; `c_points`/`d_points` are the decoded `C_i`/`D_i`.
pub fn verify(
    t: &Transcript,
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    d_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
    proof: &[u8],
) -> CoreResult<()> {
    let fail = |why: &str| CoreError::VerificationFailed(format!("DLEQ proof: {why}"));
    if proof.len() != 64 || c_points.len() != d_points.len() || c_points.len() != c.len() {
        return Err(fail("malformed"));
    }
    let mut cb = [0_u8; 32];
    cb.copy_from_slice(&proof[..32]);
    let mut sb = [0_u8; 32];
    sb.copy_from_slice(&proof[32..]);
    let ch = Option::<Scalar>::from(Scalar::from_canonical_bytes(cb))
        .ok_or_else(|| fail("non-canonical scalar"))?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(sb))
        .ok_or_else(|| fail("non-canonical scalar"))?;
    let pk_point = pk.decompress().ok_or_else(|| fail("invalid public key"))?;
    let w = weights(t, pk, c, d)?;
    let m = multiscalar(&w, c_points);
    let z = multiscalar(&w, d_points);
    let t2 =
        RistrettoPoint::vartime_multiscalar_mul([s, ch], [RISTRETTO_BASEPOINT_POINT, pk_point]);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([s, ch], [m, z]);
    if challenge(t, pk, &m, &z, &t2, &t3)? != ch {
        return Err(fail(
            "the sender's evaluations do not match its published key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::join::hash::hash_to_group;

    #[test]
    fn honest_proof_verifies_and_tampering_fails() {
        let k = SecretScalar::random().unwrap();
        let pk = RistrettoPoint::mul_base(&k.0).compress();
        let cs: Vec<RistrettoPoint> = (0..50)
            .map(|i| hash_to_group(format!("{i}").as_bytes()).unwrap())
            .collect();
        let mut ds: Vec<RistrettoPoint> = cs.iter().map(|p| p * k.0).collect();
        let cc: Vec<_> = cs.iter().map(|p| p.compress()).collect();
        let dc: Vec<_> = ds.iter().map(|p| p.compress()).collect();
        let t = &ZONE_OPT_V1;
        let proof = prove(t, &k.0, &pk, &cs, &cc, &dc).unwrap();
        verify(t, &pk, &cs, &ds, &cc, &dc, &proof).unwrap();
        // One evaluation under another key.
        ds[7] = cs[7] * Scalar::from(5_u64);
        let dc2: Vec<_> = ds.iter().map(|p| p.compress()).collect();
        assert!(verify(t, &pk, &cs, &ds, &cc, &dc2, &proof).is_err());
        let mut bad = proof;
        bad[40] ^= 1;
        let ds: Vec<RistrettoPoint> = cs.iter().map(|p| p * k.0).collect();
        assert!(verify(t, &pk, &cs, &ds, &cc, &dc, &bad).is_err());
    }
}
