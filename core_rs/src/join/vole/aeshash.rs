//! Fixed-key AES hashing and AES-based PRGs (the `aes` crate; AES-NI detected at run time).
//!
//! - `pi`: AES-128 under a fixed public key, modelled as a random permutation;
//! - [`tccr`]: the tweakable correlation-robust hash `pi(pi(x) ^ t) ^ pi(x)` (Guo, Katz,
//!   Wang, Yu 2020), used to turn correlated OTs into random OTs and to hash VOLE outputs;
//! - [`hash_key`]: a key of any length to 128 bits, Matyas-Meyer-Oseas over fixed-key AES
//!   with length padding (a collision costs about 2^64 work);
//! - [`Prg`]: AES-128 in counter mode under a secret seed.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Block};
use std::sync::LazyLock;

/// AES-128 under one key, on `u128` blocks (little-endian).
pub struct Aes(Aes128);

impl Aes {
    pub fn new(key: u128) -> Self {
        Aes(Aes128::new(&key.to_le_bytes().into()))
    }

    #[inline]
    pub fn encrypt(&self, x: u128) -> u128 {
        let mut b = Block::from(x.to_le_bytes());
        self.0.encrypt_block(&mut b);
        u128::from_le_bytes(b.into())
    }

    /// Encrypt in place, eight blocks at a time (pipelined AES-NI).
    pub fn encrypt_many(&self, xs: &mut [u128]) {
        let mut blocks = [Block::default(); 8];
        for chunk in xs.chunks_mut(8) {
            let n = chunk.len();
            for (b, x) in blocks.iter_mut().zip(chunk.iter()) {
                *b = Block::from(x.to_le_bytes());
            }
            self.0.encrypt_blocks(&mut blocks[..n]);
            for (x, b) in chunk.iter_mut().zip(blocks.iter()) {
                *x = u128::from_le_bytes((*b).into());
            }
        }
    }
}

// Public constants (hexadecimal digits of pi), one per use, so no key is shared across uses.
static PI: LazyLock<Aes> = LazyLock::new(|| Aes::new(0x243F_6A88_85A3_08D3_1319_8A2E_0370_7344));
static GGM_LEFT: LazyLock<Aes> =
    LazyLock::new(|| Aes::new(0xA409_3822_299F_31D0_082E_FA98_EC4E_6C89));
static GGM_RIGHT: LazyLock<Aes> =
    LazyLock::new(|| Aes::new(0x4528_21E6_38D0_1377_BE54_66CF_34E9_0C6C));

/// The fixed-key permutation.
#[inline]
pub fn pi(x: u128) -> u128 {
    PI.encrypt(x)
}

/// Tweakable correlation-robust hash `pi(pi(x) ^ tweak) ^ pi(x)`.
#[inline]
pub fn tccr(x: u128, tweak: u128) -> u128 {
    let p = pi(x);
    pi(p ^ tweak) ^ p
}

/// [`tccr`] of many values with tweaks `tweak0 + i`, in place.
pub fn tccr_many(xs: &mut [u128], tweak0: u128) {
    let mut p = xs.to_vec();
    PI.encrypt_many(&mut p);
    for (i, (x, &pv)) in xs.iter_mut().zip(p.iter()).enumerate() {
        *x = pv ^ tweak0.wrapping_add(i as u128);
    }
    PI.encrypt_many(xs);
    for (x, &pv) in xs.iter_mut().zip(p.iter()) {
        *x ^= pv;
    }
}

/// [`tccr`] of many values under one tweak, in place.
pub fn tccr_many_same(xs: &mut [u128], tweak: u128) {
    let mut p = xs.to_vec();
    PI.encrypt_many(&mut p);
    for (x, &pv) in xs.iter_mut().zip(p.iter()) {
        *x = pv ^ tweak;
    }
    PI.encrypt_many(xs);
    for (x, &pv) in xs.iter_mut().zip(p.iter()) {
        *x ^= pv;
    }
}

/// The GGM tree's length-doubling PRG: `(L(x) ^ x, R(x) ^ x)`, many parents at once.
/// `children` must hold twice as many values as `parents`.
pub fn ggm_expand(parents: &[u128], children: &mut [u128]) {
    let mut l = parents.to_vec();
    let mut r = parents.to_vec();
    GGM_LEFT.encrypt_many(&mut l);
    GGM_RIGHT.encrypt_many(&mut r);
    // Interleave into child order 2i (left), 2i + 1 (right).
    for (i, p) in parents.iter().enumerate() {
        children[2 * i] = l[i] ^ p;
        children[2 * i + 1] = r[i] ^ p;
    }
}

/// A key's bytes to 128 bits: MMO chaining `h = pi(h ^ m) ^ h ^ m` over 16-byte blocks, the
/// last padded with `0x80` and the byte length (so no two lengths collide by padding).
pub fn hash_key(key: &[u8]) -> u128 {
    let mut h: u128 = 0x6A09_E667_F3BC_C908_BB67_AE85_84CA_A73B;
    let mut chunks = key.chunks_exact(16);
    for c in &mut chunks {
        let mut b = [0_u8; 16];
        b.copy_from_slice(c);
        let m = u128::from_le_bytes(b) ^ h;
        h = pi(m) ^ m;
    }
    let rest = chunks.remainder();
    let mut b = [0_u8; 16];
    b[..rest.len()].copy_from_slice(rest);
    b[rest.len()] = 0x80;
    let m = u128::from_le_bytes(b) ^ h;
    h = pi(m) ^ m;
    let m = (key.len() as u128) ^ h;
    pi(m) ^ m
}

/// AES-128 counter mode under a secret seed.
pub struct Prg(Aes);

impl Prg {
    pub fn new(seed: u128) -> Self {
        Prg(Aes::new(seed))
    }

    /// Blocks `start..start + out.len()` of the stream.
    pub fn fill(&self, start: u128, out: &mut [u128]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = start.wrapping_add(i as u128);
        }
        self.0.encrypt_many(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_matches_fips197_vector() {
        // FIPS-197 appendix C.1: key 000102..0f, plaintext 00112233..ff.
        let key = u128::from_le_bytes(core::array::from_fn(|i| i as u8));
        let pt = u128::from_le_bytes(core::array::from_fn(|i| (i as u8) * 0x11));
        let want = u128::from_le_bytes([
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ]);
        let aes = Aes::new(key);
        assert_eq!(aes.encrypt(pt), want);
        let mut many = vec![pt; 11];
        aes.encrypt_many(&mut many);
        assert!(many.iter().all(|&x| x == want));
    }

    #[test]
    fn batched_forms_match_single_calls() {
        let xs: Vec<u128> = (0..21).map(|i| (i as u128) * 0x1234_5678_9abc).collect();
        let mut same = xs.clone();
        tccr_many_same(&mut same, 7);
        assert!(xs.iter().zip(&same).all(|(&x, &y)| y == tccr(x, 7)));
        let mut t = xs.clone();
        tccr_many(&mut t, 99);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(t[i], tccr(x, 99 + i as u128));
        }
        let mut ch = vec![0; 42];
        ggm_expand(&xs, &mut ch);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(ch[2 * i], GGM_LEFT.encrypt(x) ^ x);
            assert_eq!(ch[2 * i + 1], GGM_RIGHT.encrypt(x) ^ x);
        }
        assert_ne!(ch[0], ch[1]);
    }

    #[test]
    fn key_hash_separates_lengths_and_contents() {
        let a = hash_key(b"");
        let b = hash_key(&[0]);
        let c = hash_key(&[0x80]);
        let d = hash_key(&[0; 16]);
        let e = hash_key(&[0; 17]);
        let all = [a, b, c, d, e, hash_key(b"91110000MA01234567")];
        for i in 0..all.len() {
            for j in 0..i {
                assert_ne!(all[i], all[j]);
            }
        }
        assert_eq!(hash_key(b"abc"), hash_key(b"abc"));
    }
}
