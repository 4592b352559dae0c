//! Exponential ElGamal on ristretto255: additively homomorphic encryption of small
//! non-negative integers, for the intersection-sum mode.
//!
//! `Enc(v) = (r G, v G + r A)` under the public key `A = a G`. Ciphertexts add
//! component-wise; decryption recovers `s G` and then `s` by baby-step giant-step, which is
//! why sums are bounded: [`MAX_SUM`] (2^40) needs a table of at most 2^20 entries (about
//! 30 MB, about a second to build) and as many giant steps. Fixed-base multiplications use
//! precomputed tables (dalek's for `G`, one built per public key for `A`).

use std::collections::HashMap;

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rayon::prelude::*;

use super::group::{decode_point, SecretScalar, BATCH};
use crate::error::{CoreError, CoreResult};

/// The largest sum decryption recovers: 2^40.
pub const MAX_SUM: u64 = 1 << 40;

/// A ciphertext `(R, C)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ciphertext {
    pub r: RistrettoPoint,
    pub c: RistrettoPoint,
}

impl Ciphertext {
    pub fn zero() -> Self {
        Self {
            r: RistrettoPoint::identity(),
            c: RistrettoPoint::identity(),
        }
    }

    pub fn add(&self, other: &Ciphertext) -> Ciphertext {
        Ciphertext {
            r: self.r + other.r,
            c: self.c + other.c,
        }
    }

    pub fn to_bytes(self) -> [u8; 64] {
        let mut out = [0_u8; 64];
        out[..32].copy_from_slice(self.r.compress().as_bytes());
        out[32..].copy_from_slice(self.c.compress().as_bytes());
        out
    }

    /// Decode 64 bytes. The identity is allowed here (an encryption of 0 with r = 0 is
    /// never produced, but a sum may legitimately be the identity in C).
    pub fn from_bytes(bytes: &[u8], field: &str, row: usize) -> CoreResult<Ciphertext> {
        if bytes.len() != 64 {
            return Err(CoreError::invalid(
                field,
                Some(row),
                "a ciphertext is 64 bytes",
            ));
        }
        let r = decode_point(&bytes[..32], field, row)?;
        let c = CompressedRistretto::from_slice(&bytes[32..])
            .ok()
            .and_then(|c| c.decompress())
            .ok_or_else(|| {
                CoreError::invalid(field, Some(row), "not a canonical ristretto255 encoding")
            })?;
        Ok(Ciphertext { r, c })
    }
}

/// An ElGamal key pair; the secret is wiped on drop.
pub struct KeyPair {
    secret: SecretScalar,
    pub public: RistrettoPoint,
}

impl KeyPair {
    pub fn generate() -> CoreResult<Self> {
        let secret = SecretScalar::random()?;
        let public = RistrettoPoint::mul_base(&secret.0);
        Ok(Self { secret, public })
    }

    /// `s G` for the plaintext `s` of a ciphertext.
    pub fn decrypt_point(&self, ct: &Ciphertext) -> RistrettoPoint {
        ct.c - ct.r * self.secret.0
    }
}

/// Encrypt every value under `public`, in parallel.
pub fn encrypt_all(public: &RistrettoPoint, values: &[u64]) -> CoreResult<Vec<Ciphertext>> {
    let table = RistrettoBasepointTable::create(public);
    values
        .par_chunks(BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&v| {
                    let r = SecretScalar::random()?;
                    Ok(Ciphertext {
                        r: RistrettoPoint::mul_base(&r.0),
                        c: RistrettoPoint::mul_base(&Scalar::from(v)) + &table * &r.0,
                    })
                })
                .collect::<CoreResult<Vec<_>>>()
        })
        .collect::<CoreResult<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// Add a fresh encryption of zero, so a sum reveals nothing about its terms' randomness.
pub fn rerandomise(public: &RistrettoPoint, ct: &Ciphertext) -> CoreResult<Ciphertext> {
    let r = SecretScalar::random()?;
    Ok(Ciphertext {
        r: ct.r + RistrettoPoint::mul_base(&r.0),
        c: ct.c + public * r.0,
    })
}

fn key64(c: &CompressedRistretto) -> u64 {
    let mut w = [0_u8; 8];
    w.copy_from_slice(&c.as_bytes()[..8]);
    u64::from_le_bytes(w)
}

/// The `s` in `[0, bound]` with `target = s G`, by baby-step giant-step. `bound <= MAX_SUM`.
pub fn discrete_log(target: &RistrettoPoint, bound: u64) -> CoreResult<u64> {
    if bound > MAX_SUM {
        return Err(CoreError::invalid(
            "values",
            None,
            format!("the sum of the receiver's values may reach {bound}, above the decryptable bound 2^40"),
        ));
    }
    let m = ((bound as f64 + 1.0).sqrt().ceil() as u64).max(1);
    let inv2 = Scalar::from(2_u64).invert();
    let g_half = RISTRETTO_BASEPOINT_POINT * inv2;
    // Baby steps: compress(j G) for j < m, via halves and batched double-and-compress.
    let mut table: HashMap<u64, u64> = HashMap::with_capacity(m as usize);
    let mut j = 0_u64;
    let mut p = RistrettoPoint::identity();
    while j < m {
        let n = (m - j).min(4096);
        let mut halves = Vec::with_capacity(n as usize);
        for _ in 0..n {
            halves.push(p);
            p += g_half;
        }
        for (i, c) in RistrettoPoint::double_and_compress_batch(&halves)
            .iter()
            .enumerate()
        {
            table.entry(key64(c)).or_insert(j + i as u64);
        }
        j += n;
    }
    // Giant steps: target - i m G for i <= m.
    let step_half = g_half * Scalar::from(m);
    let mut q = target * inv2;
    let mut i = 0_u64;
    while i <= m {
        let n = (m + 1 - i).min(1024);
        let mut halves = Vec::with_capacity(n as usize);
        for _ in 0..n {
            halves.push(q);
            q -= step_half;
        }
        for (t, c) in RistrettoPoint::double_and_compress_batch(&halves)
            .iter()
            .enumerate()
        {
            if let Some(&jj) = table.get(&key64(c)) {
                let s = (i + t as u64) * m + jj;
                // Confirm (the table key is a 64-bit prefix).
                if RistrettoPoint::mul_base(&Scalar::from(s)) == *target {
                    return Ok(s);
                }
            }
        }
        i += n;
    }
    Err(CoreError::VerificationFailed(
        "the decrypted sum is outside the announced bound".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homomorphic_sum_decrypts() {
        let kp = KeyPair::generate().unwrap();
        let values = [0_u64, 7, 1_000_000, 3, 123_456_789];
        let cts = encrypt_all(&kp.public, &values).unwrap();
        let sum = cts.iter().fold(Ciphertext::zero(), |a, b| a.add(b));
        let sum = rerandomise(&kp.public, &sum).unwrap();
        let back = Ciphertext::from_bytes(&sum.to_bytes(), "ct", 0).unwrap();
        let total: u64 = values.iter().sum();
        assert_eq!(
            discrete_log(&kp.decrypt_point(&back), total).unwrap(),
            total
        );
        for s in [0_u64, 1, 2, 99, 100] {
            let p = RistrettoPoint::mul_base(&Scalar::from(s));
            assert_eq!(discrete_log(&p, 100).unwrap(), s);
        }
        assert!(discrete_log(&RistrettoPoint::mul_base(&Scalar::from(500_u64)), 100).is_err());
    }
}
