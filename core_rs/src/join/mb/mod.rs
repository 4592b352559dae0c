//! Multi-buffer ristretto255: eight points at once, one per 64-bit lane of AVX-512 IFMA
//! registers, for PSI's hot paths (hash to the group, decode, multiply by the session's
//! secret scalar, encode).
//!
//! The outputs are bit-for-bit those of curve25519-dalek (the wire format does not change):
//! the tests (`tests.rs`) check field arithmetic against a plain `u128` reference and
//! algebraic identities, every operation against dalek on thousands of random inputs, and
//! RFC 9496 Appendix A's vectors.
//!
//! - `field`: GF(2^255 - 19), radix 2^51 in IFMA's 52-bit multiplier lanes;
//! - `point`: extended Edwards coordinates, HWCD addition/doubling, the constant-time
//!   variable-base multiplication (signed radix-16 digits, all 8 table entries scanned with
//!   masked blends for every digit, 4 doublings per digit; one scalar for all lanes);
//! - `ristretto`: RFC 9496 §4.3 decode / encode / `from_uniform_bytes`.
//!
//! Dispatch: [`Ifma::get`] returns a token only when the CPU has `avx512f`, `avx512dq` and
//! `avx512ifma` (checked once) and the environment variable `ZONE_OPT_JOIN_SIMD` is not `0`
//! (read once; `ZONE_OPT_JOIN_SIMD=0` forces dalek's code path, e.g. to test it on an IFMA
//! machine). Without a token, `group.rs` uses dalek.
//!
//! Constant time: everything touching the secret scalar or secret-derived points is
//! branch-free vector code; only the validation of received (public) encodings branches.

mod field;
mod point;
mod ristretto;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use point::Digits;

// Constants of RFC 9496 §4.1 / curve25519 in radix-2^51 limbs (checked in the tests).
/// d = -121665 / 121666.
const D: [u64; 5] = [
    0x34dca135978a3,
    0x1a8283b156ebd,
    0x5e7a26001c029,
    0x739c663a03cbb,
    0x52036cee2b6ff,
];
/// 2d.
const D2: [u64; 5] = [
    0x69b9426b2f159,
    0x35050762add7a,
    0x3cf44c0038052,
    0x6738cc7407977,
    0x2406d9dc56dff,
];
const SQRT_M1: [u64; 5] = [
    0x61b274a0ea0b0,
    0xd5a5fc8f189d,
    0x7ef5e9cbd0c60,
    0x78595a6804c9e,
    0x2b8324804fc1d,
];
const SQRT_AD_MINUS_ONE: [u64; 5] = [
    0x7f6a0497b2e1b,
    0x1836f0a97afd2,
    0x7d747f6be7638,
    0x456079e7e6498,
    0x376931bf2b834,
];
const INVSQRT_A_MINUS_D: [u64; 5] = [
    0xfdaa805d40ea,
    0x2eb482e57d339,
    0x7610274bc58,
    0x6510b613dc8ff,
    0x786c8905cfaff,
];
const ONE_MINUS_D_SQ: [u64; 5] = [
    0x409c1945fc176,
    0x719abc6a1fc4f,
    0x1c37f90b20684,
    0x6bccca55eedf,
    0x29072a8b2b3e,
];
const D_MINUS_ONE_SQ: [u64; 5] = [
    0x55aaa44ed4d20,
    0x59603c3332635,
    0x26d3baf4a7928,
    0x120a66e6997a9,
    0x5968b37af66c2,
];

/// Proof that the multi-buffer path may run: the CPU has AVX-512F, DQ and IFMA.
#[derive(Clone, Copy, Debug)]
pub struct Ifma(());

impl Ifma {
    /// The token if the CPU supports the multi-buffer code and `ZONE_OPT_JOIN_SIMD` is not
    /// `0` (both checked once per process). The variable's old name `ZONE_OPT_PSI_SIMD` is
    /// read when the new one is unset (until 0.2, see CHANGELOG.md).
    pub fn get() -> Option<Ifma> {
        static ENABLED: OnceLock<bool> = OnceLock::new();
        let on = *ENABLED.get_or_init(|| {
            std::env::var("ZONE_OPT_JOIN_SIMD")
                .or_else(|_| std::env::var("ZONE_OPT_PSI_SIMD"))
                .map_or(true, |v| v.trim() != "0")
                && Self::cpu_has_ifma()
        });
        on.then_some(Ifma(()))
    }

    /// Whether the CPU has the features (ignores the environment; for tests).
    pub fn detect() -> Option<Ifma> {
        Self::cpu_has_ifma().then_some(Ifma(()))
    }

    fn cpu_has_ifma() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }

    /// `encode(s * from_uniform_bytes(u))` for eight 64-byte strings.
    pub fn hash_mul_encode(self, uniform: &[[u8; 64]; 8], s: &Digits) -> [[u8; 32]; 8] {
        // SAFETY: an `Ifma` exists only if the CPU has avx512f, avx512dq and avx512ifma.
        unsafe { hash_mul_encode(uniform, s) }
    }

    /// `encode(s * decode(e))` for eight encodings, and the mask of lanes that decoded
    /// (RFC 9496 validity; the identity counts as valid). Invalid lanes' outputs are garbage.
    pub fn decode_mul_encode(self, enc: &[[u8; 32]; 8], s: &Digits) -> ([[u8; 32]; 8], u8) {
        // SAFETY: an `Ifma` exists only if the CPU has avx512f, avx512dq and avx512ifma.
        unsafe { decode_mul_encode(enc, s) }
    }

    /// `from_uniform_bytes` then encode (no multiplication), for tests and measurements.
    pub fn hash_encode(self, uniform: &[[u8; 64]; 8]) -> [[u8; 32]; 8] {
        // SAFETY: an `Ifma` exists only if the CPU has avx512f, avx512dq and avx512ifma.
        unsafe { hash_encode(uniform) }
    }

    /// Decode then re-encode, and the validity mask, for tests and measurements.
    pub fn decode_encode(self, enc: &[[u8; 32]; 8]) -> ([[u8; 32]; 8], u8) {
        // SAFETY: an `Ifma` exists only if the CPU has avx512f, avx512dq and avx512ifma.
        unsafe { decode_encode(enc) }
    }
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn hash_mul_encode(uniform: &[[u8; 64]; 8], s: &Digits) -> [[u8; 32]; 8] {
    ristretto::encode(&ristretto::from_uniform_bytes(uniform).mul_digits(s))
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn decode_mul_encode(enc: &[[u8; 32]; 8], s: &Digits) -> ([[u8; 32]; 8], u8) {
    let (p, valid) = ristretto::decode(enc);
    (ristretto::encode(&p.mul_digits(s)), valid)
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn hash_encode(uniform: &[[u8; 64]; 8]) -> [[u8; 32]; 8] {
    ristretto::encode(&ristretto::from_uniform_bytes(uniform))
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn decode_encode(enc: &[[u8; 32]; 8]) -> ([[u8; 32]; 8], u8) {
    let (p, valid) = ristretto::decode(enc);
    (ristretto::encode(&p), valid)
}
