//! Batched DLEQ proof of RFC 9497 §2.2 (the VOPRF proof): the sender proves that every
//! evaluation `D_i = k * C_i` uses the key behind its published `K = k * G`, with one
//! 64-byte proof for the whole batch.
//!
//! The structure is RFC 9497's (`ComputeComposites`, then a Schnorr-style proof on the
//! composites), with two documented changes: the item index is encoded in 8 bytes instead of
//! 2 so batches may exceed 2^16 items, and hashes use zone-opt's own domain-separation tags.
//! The composite sums use `vartime` multiscalar multiplication: their inputs are public.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, VartimeMultiscalarMul};
use rayon::prelude::*;
use sha2::{Digest, Sha512};

use super::group::{SecretScalar, BATCH};
use super::hash::hash_to_scalar;
use crate::error::{CoreError, CoreResult};

const SEED_DST: &[u8] = b"Seed-ZONE-OPT-PSI-V1-ristretto255-SHA512";

fn lp(len: usize) -> [u8; 2] {
    (len as u16).to_be_bytes()
}

/// The composite weights `d_i`, one per (C_i, D_i) pair.
fn weights(
    pk: &CompressedRistretto,
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
) -> CoreResult<Vec<Scalar>> {
    let mut h = Sha512::new();
    h.update(lp(32));
    h.update(pk.as_bytes());
    h.update(lp(SEED_DST.len()));
    h.update(SEED_DST);
    let seed = h.finalize();
    c.par_iter()
        .zip(d.par_iter())
        .enumerate()
        .with_min_len(BATCH)
        .map(|(i, (ci, di))| {
            hash_to_scalar(&[
                &lp(64),
                &seed,
                &(i as u64).to_be_bytes(),
                &lp(32),
                ci.as_bytes(),
                &lp(32),
                di.as_bytes(),
                b"Composite",
            ])
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
    pk: &CompressedRistretto,
    m: &RistrettoPoint,
    z: &RistrettoPoint,
    t2: &RistrettoPoint,
    t3: &RistrettoPoint,
) -> CoreResult<Scalar> {
    let (m, z, t2, t3) = (m.compress(), z.compress(), t2.compress(), t3.compress());
    hash_to_scalar(&[
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
    ])
}

/// Prove `D_i = k * C_i` for all i; `c_points` are the decoded `C_i`.
pub fn prove(
    k: &Scalar,
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
) -> CoreResult<[u8; 64]> {
    let w = weights(pk, c, d)?;
    let m = multiscalar(&w, c_points);
    let z = m * k;
    let r = SecretScalar::random()?;
    let t2 = RistrettoPoint::mul_base(&r.0);
    let t3 = m * r.0;
    let ch = challenge(pk, &m, &z, &t2, &t3)?;
    let s = r.0 - ch * k;
    let mut proof = [0_u8; 64];
    proof[..32].copy_from_slice(ch.as_bytes());
    proof[32..].copy_from_slice(s.as_bytes());
    Ok(proof)
}

/// Check a proof; `c_points`/`d_points` are the decoded `C_i`/`D_i`.
pub fn verify(
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    d_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
    proof: &[u8],
) -> CoreResult<()> {
    let fail = |why: &str| CoreError::VerificationFailed(format!("DLEQ proof: {why}"));
    if proof.len() != 64 || c_points.len() != d_points.len() {
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
    let w = weights(pk, c, d)?;
    let m = multiscalar(&w, c_points);
    let z = multiscalar(&w, d_points);
    let t2 =
        RistrettoPoint::vartime_multiscalar_mul([s, ch], [RISTRETTO_BASEPOINT_POINT, pk_point]);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([s, ch], [m, z]);
    if challenge(pk, &m, &z, &t2, &t3)? != ch {
        return Err(fail(
            "the sender's evaluations do not match its published key",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psi::hash::hash_to_group;

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
        let proof = prove(&k.0, &pk, &cs, &cc, &dc).unwrap();
        verify(&pk, &cs, &ds, &cc, &dc, &proof).unwrap();
        // One evaluation under another key.
        ds[7] = cs[7] * Scalar::from(5_u64);
        let dc2: Vec<_> = ds.iter().map(|p| p.compress()).collect();
        assert!(verify(&pk, &cs, &ds, &cc, &dc2, &proof).is_err());
        let mut bad = proof;
        bad[40] ^= 1;
        let ds: Vec<RistrettoPoint> = cs.iter().map(|p| p * k.0).collect();
        assert!(verify(&pk, &cs, &ds, &cc, &dc, &bad).is_err());
    }
}
