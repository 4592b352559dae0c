//! Sealing a session secret to one worker process (ECIES on ristretto255).
//!
//! A party that runs its buckets on workers of its own cluster must hand each worker the
//! session secret (the sender's OPRF key, the receiver's blind and bucket key) without the
//! secret ever lying in plaintext in the cluster's object store or control store. Each
//! worker process makes a [`SealKey`] (an ephemeral keypair that never leaves the process)
//! and publishes its public key; the driver seals the secret to that key ([`seal`]) and only
//! the sealed bytes travel; the worker opens them ([`SealKey::open`]) for the task at hand.
//!
//! Construction: an ephemeral scalar `e`, `E = e·G`, the shared point `e·P` (`P` the
//! worker's public key); `SHA-512(DST || E || P || e·P)` gives the 32-byte ChaCha20-Poly1305
//! key (fresh per seal, so the all-zero nonce is safe). The associated data binds the
//! format version, the worker's key id and a label naming what is sealed, so a blob sealed
//! to another worker, or for another purpose, is refused. Sealed bytes:
//! `version (1) || key id (16) || E (32) || ciphertext || tag (16)`.
//!
//! Malformed, truncated or tampered bytes, a wrong key or a wrong label are errors
//! ([`CoreError::InvalidInput`] naming `sealed`), never panics.

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, Zeroizing};

use super::group::SecretScalar;
use crate::error::{CoreError, CoreResult};

/// Format version of sealed bytes.
const VERSION: u8 = 1;
/// DST of the AEAD key derivation.
const DST_KDF: &[u8] = b"ZONE-OPT-SEAL-V1-KDF";
/// DST of the key id.
const DST_KEY_ID: &[u8] = b"ZONE-OPT-SEAL-V1-KEY-ID";
/// DST of a keypair derived from a party's stored secret.
const DST_FROM_SECRET: &[u8] = b"ZONE-OPT-SEAL-V1-FROM-SECRET";
/// The fewest bytes of a stored secret a keypair is derived from.
pub const MIN_SECRET_LEN: usize = 32;
/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 16;
/// Bytes a seal adds to its plaintext.
pub const OVERHEAD: usize = 1 + KEY_ID_LEN + 32 + 16;

fn refused(reason: impl Into<String>) -> CoreError {
    CoreError::invalid("sealed", None, reason)
}

/// The id of a public key: the first 16 bytes of `SHA-512(DST || public)`.
pub fn key_id(public: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let mut h = Sha512::new();
    h.update(DST_KEY_ID);
    h.update(public);
    let d = h.finalize();
    let mut id = [0_u8; KEY_ID_LEN];
    id.copy_from_slice(&d[..KEY_ID_LEN]);
    id
}

fn aead(ephemeral: &[u8; 32], public: &[u8; 32], shared: &RistrettoPoint) -> ChaCha20Poly1305 {
    let mut h = Sha512::new();
    h.update(DST_KDF);
    h.update(ephemeral);
    h.update(public);
    h.update(shared.compress().as_bytes());
    let mut d = h.finalize();
    let mut key = [0_u8; 32];
    key.copy_from_slice(&d[..32]);
    d.zeroize();
    let cipher = ChaCha20Poly1305::new(&Key::from(key));
    key.zeroize();
    cipher
}

fn associated(id: &[u8; KEY_ID_LEN], label: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(1 + KEY_ID_LEN + label.len());
    ad.push(VERSION);
    ad.extend_from_slice(id);
    ad.extend_from_slice(label);
    ad
}

/// Seal `plain` to the holder of `public` (a worker's [`SealKey::public`]) under `label`.
pub fn seal(public: &[u8], label: &[u8], plain: &[u8]) -> CoreResult<Vec<u8>> {
    let public: [u8; 32] = public
        .try_into()
        .map_err(|_| CoreError::invalid("public_key", None, "must be 32 bytes"))?;
    let point = CompressedRistretto(public)
        .decompress()
        .filter(|p| !p.is_identity())
        .ok_or_else(|| {
            CoreError::invalid("public_key", None, "not a valid ristretto255 public key")
        })?;
    let e = SecretScalar::random()?;
    let ephemeral = RistrettoPoint::mul_base(&e.0).compress().to_bytes();
    let shared = point * e.0;
    let id = key_id(&public);
    let ct = aead(&ephemeral, &public, &shared)
        .encrypt(
            &Nonce::default(),
            AeadPayload {
                msg: plain,
                aad: &associated(&id, label),
            },
        )
        .map_err(|_| CoreError::Internal("AEAD encryption failed".into()))?;
    let mut out = Vec::with_capacity(OVERHEAD + plain.len());
    out.push(VERSION);
    out.extend_from_slice(&id);
    out.extend_from_slice(&ephemeral);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// The key id a sealed blob is addressed to (its bytes 1..17), or an error if malformed.
pub fn addressee(sealed: &[u8]) -> CoreResult<[u8; KEY_ID_LEN]> {
    if sealed.len() < OVERHEAD {
        return Err(refused(format!(
            "{} bytes, shorter than the {OVERHEAD} of an empty seal",
            sealed.len()
        )));
    }
    if sealed[0] != VERSION {
        return Err(refused(format!("unknown format version {}", sealed[0])));
    }
    let mut id = [0_u8; KEY_ID_LEN];
    id.copy_from_slice(&sealed[1..=KEY_ID_LEN]);
    Ok(id)
}

/// A worker's keypair, made in its process; the secret scalar never leaves it and is wiped
/// on drop.
pub struct SealKey {
    secret: SecretScalar,
    public: [u8; 32],
}

impl SealKey {
    pub fn generate() -> CoreResult<Self> {
        let secret = SecretScalar::random()?;
        let public = RistrettoPoint::mul_base(&secret.0).compress().to_bytes();
        Ok(Self { secret, public })
    }

    /// The keypair derived from a secret the party stores (at least 32 random bytes), so
    /// that what was sealed to it can be opened by a later process of the party (a driver
    /// that restarts). Errors name `session_key`.
    pub fn from_secret(secret: &[u8]) -> CoreResult<Self> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(CoreError::invalid(
                "session_key",
                None,
                format!("must hold at least {MIN_SECRET_LEN} random bytes"),
            ));
        }
        let mut h = Sha512::new();
        h.update(DST_FROM_SECRET);
        h.update(secret);
        let mut wide = [0_u8; 64];
        wide.copy_from_slice(&h.finalize());
        let scalar = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        if scalar == Scalar::ZERO {
            return Err(CoreError::invalid("session_key", None, "gives a zero key"));
        }
        let secret = SecretScalar(scalar);
        let public = RistrettoPoint::mul_base(&secret.0).compress().to_bytes();
        Ok(Self { secret, public })
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        key_id(&self.public)
    }

    /// Open bytes sealed to this key under `label`: the plaintext, wiped when dropped.
    pub fn open(&self, label: &[u8], sealed: &[u8]) -> CoreResult<Zeroizing<Vec<u8>>> {
        let id = addressee(sealed)?;
        if id != self.key_id() {
            return Err(refused(
                "sealed to another worker key (key id differs): seal to this worker's public key",
            ));
        }
        let mut ephemeral = [0_u8; 32];
        ephemeral.copy_from_slice(&sealed[1 + KEY_ID_LEN..1 + KEY_ID_LEN + 32]);
        let point = CompressedRistretto(ephemeral)
            .decompress()
            .filter(|p| !p.is_identity())
            .ok_or_else(|| refused("the ephemeral key is not a valid ristretto255 point"))?;
        let shared = point * self.secret.0;
        let plain = aead(&ephemeral, &self.public, &shared)
            .decrypt(
                &Nonce::default(),
                AeadPayload {
                    msg: &sealed[1 + KEY_ID_LEN + 32..],
                    aad: &associated(&id, label),
                },
            )
            .map_err(|_| {
                refused(
                    "authentication failed: the bytes were altered, or sealed for another purpose",
                )
            })?;
        Ok(Zeroizing::new(plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &[u8] = b"test-secret";

    fn reason(e: CoreError) -> String {
        e.to_string()
    }

    #[test]
    fn opens_with_the_right_key_only() {
        let worker = SealKey::generate().unwrap();
        let other = SealKey::generate().unwrap();
        let sealed = seal(&worker.public(), LABEL, b"the session secret").unwrap();
        assert_eq!(sealed.len(), OVERHEAD + 18);
        assert_eq!(addressee(&sealed).unwrap(), worker.key_id());
        assert_eq!(
            worker.open(LABEL, &sealed).unwrap().as_slice(),
            b"the session secret"
        );
        assert!(reason(other.open(LABEL, &sealed).unwrap_err()).contains("another worker key"));
        assert!(reason(worker.open(b"other", &sealed).unwrap_err()).contains("authentication"));
    }

    #[test]
    fn a_key_from_a_stored_secret_is_the_same_in_every_process() {
        let a = SealKey::from_secret(&[7_u8; 32]).unwrap();
        let b = SealKey::from_secret(&[7_u8; 32]).unwrap();
        let c = SealKey::from_secret(&[8_u8; 32]).unwrap();
        assert_eq!(a.public(), b.public());
        assert_ne!(a.public(), c.public());
        let sealed = seal(&a.public(), LABEL, b"state").unwrap();
        assert_eq!(b.open(LABEL, &sealed).unwrap().as_slice(), b"state");
        assert!(c.open(LABEL, &sealed).is_err());
        assert!(reason(SealKey::from_secret(&[1_u8; 31]).err().unwrap()).contains("session_key"));
    }

    #[test]
    fn seals_are_fresh() {
        let worker = SealKey::generate().unwrap();
        let a = seal(&worker.public(), LABEL, b"x").unwrap();
        let b = seal(&worker.public(), LABEL, b"x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn every_altered_byte_is_refused_without_panic() {
        let worker = SealKey::generate().unwrap();
        let sealed = seal(&worker.public(), LABEL, b"secret bytes").unwrap();
        for i in 0..sealed.len() {
            for bit in [0x01_u8, 0x80] {
                let mut bad = sealed.clone();
                bad[i] ^= bit;
                assert!(worker.open(LABEL, &bad).is_err(), "byte {i} bit {bit}");
            }
        }
        for n in 0..sealed.len() {
            assert!(worker.open(LABEL, &sealed[..n]).is_err());
        }
    }

    #[test]
    fn a_bad_public_key_is_an_error() {
        assert!(seal(&[0_u8; 31], LABEL, b"x").is_err());
        assert!(seal(&[0_u8; 32], LABEL, b"x").is_err()); // the identity
        assert!(seal(&[0xff_u8; 32], LABEL, b"x").is_err());
    }
}
