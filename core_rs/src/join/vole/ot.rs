//! Oblivious transfer: 128 base OTs on ristretto255, extended to any number of correlated
//! OTs with IKNP (Ishai, Kilian, Nissim, Petrank 2003).
//!
//! **Base OT** (receiver first, in the style of Masny and Rindal's endemic OT, semi-honest):
//! the receiver, for choice bit `c`, picks `b` and a random point `R`, and sends
//! `(r_0, r_1)` with `r_{1-c} = R` and `r_c = b*G - H(r_{1-c})`. The sender picks `a`,
//! sends `A = a*G` and keeps `k_j = KDF(a * (r_j + H(r_{1-j})))`; the receiver derives
//! `k_c = KDF(b * A)`. Both `r_j` are uniform points whatever `c` is; `k_{1-c}` would need
//! the discrete log of `r_{1-c} + H(r_c)` (CDH in the random-oracle model).
//!
//! **IKNP**: the extension receiver (choice bits `x`) is the base-OT sender with seed pairs
//! `(k0_i, k1_i)`; the extension sender (secret `delta`) is the base-OT receiver with
//! choices `delta_i`. The receiver sends `u_i = G(k0_i) ^ G(k1_i) ^ x` (128 bits per
//! extended OT); after a bit-matrix transposition the receiver holds `t_j`, the sender
//! `q_j = t_j ^ x_j * delta`: a correlated OT, i.e. a VOLE over GF(2) with global key
//! `delta`.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use rayon::prelude::*;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::aeshash::Prg;
use crate::error::{CoreError, CoreResult};

/// Number of base OTs (the computational security parameter kappa).
pub const BASE_OTS: usize = 128;
/// Bytes of one base-OT receiver message (two compressed points).
pub const RECEIVER_MSG_LEN: usize = 64;

pub(crate) fn random_bytes<const N: usize>() -> CoreResult<[u8; N]> {
    let mut b = [0_u8; N];
    getrandom::fill(&mut b).map_err(|e| CoreError::Internal(format!("no OS randomness: {e}")))?;
    Ok(b)
}

pub(crate) fn random_u128() -> CoreResult<u128> {
    Ok(u128::from_le_bytes(random_bytes::<16>()?))
}

fn random_scalar() -> CoreResult<Scalar> {
    let mut w = random_bytes::<64>()?;
    let s = Scalar::from_bytes_mod_order_wide(&w);
    w.zeroize();
    Ok(s)
}

/// `H(i, r)`: a point from the index and an encoded point (SHA-512, then Elligator twice).
fn hash_point(context: &[u8; 32], i: usize, r: &[u8]) -> RistrettoPoint {
    let mut h = Sha512::new();
    h.update(b"zone-opt-psi-vole-v1 base-ot H");
    h.update(context);
    h.update((i as u64).to_le_bytes());
    h.update(r);
    let d: [u8; 64] = h.finalize().into();
    RistrettoPoint::from_uniform_bytes(&d)
}

/// `KDF(i, P)`: the 128-bit seed of OT `i` from the shared point.
fn kdf(context: &[u8; 32], i: usize, p: &RistrettoPoint) -> u128 {
    let mut h = Sha512::new();
    h.update(b"zone-opt-psi-vole-v1 base-ot KDF");
    h.update(context);
    h.update((i as u64).to_le_bytes());
    h.update(p.compress().as_bytes());
    let d: [u8; 64] = h.finalize().into();
    let mut k = [0_u8; 16];
    k.copy_from_slice(&d[..16]);
    u128::from_le_bytes(k)
}

fn decode(bytes: &[u8], what: &str, i: usize) -> CoreResult<RistrettoPoint> {
    let c = CompressedRistretto::from_slice(bytes)
        .map_err(|_| CoreError::invalid(what, Some(i), "a point must be 32 bytes"))?;
    c.decompress()
        .ok_or_else(|| CoreError::invalid(what, Some(i), "not a valid ristretto255 encoding"))
}

/// The base-OT receiver: choices are the bits of `choices` (bit `i` for OT `i`).
pub struct BaseReceiver {
    choices: u128,
    secrets: Vec<Scalar>,
    context: [u8; 32],
}

impl Drop for BaseReceiver {
    fn drop(&mut self) {
        self.secrets.zeroize();
    }
}

impl BaseReceiver {
    /// The receiver's state and its message (`BASE_OTS * 64` bytes). `context` binds the
    /// hashes to the session.
    pub fn new(choices: u128, context: [u8; 32]) -> CoreResult<(Self, Vec<u8>)> {
        let mut secrets = Vec::with_capacity(BASE_OTS);
        let mut randoms = Vec::with_capacity(BASE_OTS);
        for _ in 0..BASE_OTS {
            secrets.push(random_scalar()?);
            randoms.push(random_bytes::<64>()?);
        }
        let parts: Vec<[u8; 64]> = (0..BASE_OTS)
            .into_par_iter()
            .map(|i| {
                let other = RistrettoPoint::from_uniform_bytes(&randoms[i])
                    .compress()
                    .to_bytes();
                let mine =
                    (&secrets[i] * RISTRETTO_BASEPOINT_TABLE) - hash_point(&context, i, &other);
                let mine = mine.compress().to_bytes();
                let mut out = [0_u8; 64];
                if (choices >> i) & 1 == 0 {
                    out[..32].copy_from_slice(&mine);
                    out[32..].copy_from_slice(&other);
                } else {
                    out[..32].copy_from_slice(&other);
                    out[32..].copy_from_slice(&mine);
                }
                out
            })
            .collect();
        let msg = parts.concat();
        Ok((
            Self {
                choices,
                secrets,
                context,
            },
            msg,
        ))
    }

    /// The chosen seeds `k_{c_i}` from the sender's point `A`.
    pub fn finish(&self, sender_point: &[u8]) -> CoreResult<Vec<u128>> {
        let a = decode(sender_point, "base-OT sender point", 0)?;
        let _ = self.choices;
        Ok((0..BASE_OTS)
            .into_par_iter()
            .map(|i| kdf(&self.context, i, &(self.secrets[i] * a)))
            .collect())
    }
}

/// The base-OT sender's answer: its point `A` and both seeds of every OT.
pub fn base_send(receiver_msg: &[u8], context: [u8; 32]) -> CoreResult<(Vec<u8>, Vec<[u128; 2]>)> {
    if receiver_msg.len() != BASE_OTS * RECEIVER_MSG_LEN {
        return Err(CoreError::invalid(
            "base-OT message",
            None,
            format!(
                "{} bytes, expected {}",
                receiver_msg.len(),
                BASE_OTS * RECEIVER_MSG_LEN
            ),
        ));
    }
    let mut a = random_scalar()?;
    let big_a = (&a * RISTRETTO_BASEPOINT_TABLE).compress().to_bytes();
    let seeds: CoreResult<Vec<[u128; 2]>> = (0..BASE_OTS)
        .into_par_iter()
        .map(|i| {
            let m = &receiver_msg[i * RECEIVER_MSG_LEN..(i + 1) * RECEIVER_MSG_LEN];
            let (r0b, r1b) = m.split_at(32);
            let r0 = decode(r0b, "base-OT message", i)?;
            let r1 = decode(r1b, "base-OT message", i)?;
            let p0 = a * (r0 + hash_point(&context, i, r1b));
            let p1 = a * (r1 + hash_point(&context, i, r0b));
            Ok([kdf(&context, i, &p0), kdf(&context, i, &p1)])
        })
        .collect();
    a.zeroize();
    Ok((big_a.to_vec(), seeds?))
}

/// Transpose a 128 x 128 bit matrix in place: bit `c` of word `r` <-> bit `r` of word `c`.
pub fn transpose128(w: &mut [u128; 128]) {
    let mut j = 64;
    let mut mask: u128 = u128::MAX >> 64; // j ones, j zeros, repeated
    while j > 0 {
        let mut k = 0;
        while k < 128 {
            for r in k..k + j {
                let t = ((w[r] >> j) ^ w[r + j]) & mask;
                w[r + j] ^= t;
                w[r] ^= t << j;
            }
            k += 2 * j;
        }
        j >>= 1;
        mask ^= mask << j;
    }
}

/// Columns (`128` rows of `blocks` words, row-major) to `blocks * 128` row words.
fn columns_to_rows(cols: &[u128], blocks: usize) -> Vec<u128> {
    let mut rows = vec![0_u128; blocks * 128];
    rows.par_chunks_mut(128).enumerate().for_each(|(c, out)| {
        let mut w = [0_u128; 128];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = cols[i * blocks + c];
        }
        transpose128(&mut w);
        out.copy_from_slice(&w);
    });
    rows
}

/// IKNP, receiver side: from the base seed pairs and packed choice bits (`x[c]` bit `k` is
/// OT `128c + k`), the message `u` (`128 * x.len()` words) and the receiver's `t_j`.
pub fn iknp_receive(seeds: &[[u128; 2]], x: &[u128]) -> (Vec<u128>, Vec<u128>) {
    let blocks = x.len();
    let mut t = vec![0_u128; BASE_OTS * blocks];
    let mut u = vec![0_u128; BASE_OTS * blocks];
    t.par_chunks_mut(blocks)
        .zip(u.par_chunks_mut(blocks))
        .zip(seeds.par_iter())
        .for_each(|((ti, ui), s)| {
            Prg::new(s[0]).fill(0, ti);
            Prg::new(s[1]).fill(0, ui);
            for c in 0..blocks {
                ui[c] ^= ti[c] ^ x[c];
            }
        });
    (u, columns_to_rows(&t, blocks))
}

/// IKNP, sender side: from the chosen base seeds, `delta` (the base choices) and the
/// receiver's `u`, the sender's `q_j = t_j ^ x_j * delta`.
pub fn iknp_send(seeds: &[u128], delta: u128, u: &[u128], blocks: usize) -> Vec<u128> {
    let mut q = vec![0_u128; BASE_OTS * blocks];
    q.par_chunks_mut(blocks).enumerate().for_each(|(i, qi)| {
        Prg::new(seeds[i]).fill(0, qi);
        if (delta >> i) & 1 == 1 {
            for c in 0..blocks {
                qi[c] ^= u[i * blocks + c];
            }
        }
    });
    columns_to_rows(&q, blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_naive() {
        let mut w = [0_u128; 128];
        for (i, x) in w.iter_mut().enumerate() {
            *x = (i as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        }
        let orig = w;
        transpose128(&mut w);
        for (r, &row) in w.iter().enumerate() {
            for (c, &col) in orig.iter().enumerate() {
                assert_eq!((row >> c) & 1, (col >> r) & 1);
            }
        }
    }

    #[test]
    fn base_ots_deliver_the_chosen_seed_only() {
        let choices = random_u128().unwrap();
        let ctx = [7_u8; 32];
        let (rx, msg) = BaseReceiver::new(choices, ctx).unwrap();
        let (a, pairs) = base_send(&msg, ctx).unwrap();
        let got = rx.finish(&a).unwrap();
        for i in 0..BASE_OTS {
            let c = ((choices >> i) & 1) as usize;
            assert_eq!(got[i], pairs[i][c]);
            assert_ne!(got[i], pairs[i][1 - c]);
        }
        // A different context (session) gives unrelated seeds.
        let (_, pairs2) = base_send(&msg, [8; 32]).unwrap();
        assert_ne!(pairs2[0], pairs[0]);
    }

    #[test]
    fn base_ot_refuses_bad_messages() {
        let (_, msg) = BaseReceiver::new(0, [0; 32]).unwrap();
        assert!(base_send(&msg[1..], [0; 32]).is_err());
        let mut bad = msg.clone();
        bad[..32].fill(0xff);
        assert!(base_send(&bad, [0; 32]).is_err());
        let (rx, _) = BaseReceiver::new(0, [0; 32]).unwrap();
        assert!(rx.finish(&[0xff; 32]).is_err());
        assert!(rx.finish(&[1; 5]).is_err());
    }

    #[test]
    fn iknp_gives_correlated_ots() {
        let delta = random_u128().unwrap();
        let ctx = [1_u8; 32];
        let (rx, msg) = BaseReceiver::new(delta, ctx).unwrap();
        let (a, pairs) = base_send(&msg, ctx).unwrap();
        let chosen = rx.finish(&a).unwrap();
        let blocks = 5;
        let x: Vec<u128> = (0..blocks).map(|_| random_u128().unwrap()).collect();
        let (u, t) = iknp_receive(&pairs, &x);
        let q = iknp_send(&chosen, delta, &u, blocks);
        for j in 0..blocks * 128 {
            let xj = (x[j / 128] >> (j % 128)) & 1;
            assert_eq!(t[j], q[j] ^ (xj * delta), "OT {j}");
        }
    }
}
