//! ristretto255 (RFC 9496 §4.3) on eight lanes: decode, encode, and the one-way map
//! `from_uniform_bytes` (§4.3.4), written from the RFC's pseudocode.

use core::arch::x86_64::*;

use super::field::{is_canonical, Fe};
use super::point::Ep;

/// RFC 9496 §4.3.1 decode. Returns the points and the mask of lanes whose encoding is
/// valid (canonical, non-negative `s`, square, `t` non-negative, `y != 0`). Invalid lanes hold
/// garbage. The identity (all zeros) is valid here; callers refuse it separately.
/// Branches only on the (public) encodings.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub fn decode(bytes: &[[u8; 32]; 8]) -> (Ep, __mmask8) {
    let mut canonical: __mmask8 = 0;
    for (j, b) in bytes.iter().enumerate() {
        // Canonical field element and s non-negative (the low bit of a canonical value).
        if is_canonical(b) && b[0] & 1 == 0 {
            canonical |= 1 << j;
        }
    }
    let one = Fe::one();
    let s = Fe::from_bytes(bytes);
    let ss = s.square();
    let u1 = one.sub(&ss);
    let u2 = one.add(&ss);
    let u2_sqr = u2.square();
    let v = Fe::splat(&super::D).mul(&u1.square()).neg().sub(&u2_sqr);
    let (was_square, invsqrt) = Fe::sqrt_ratio_m1(&one, &v.mul(&u2_sqr));
    let den_x = invsqrt.mul(&u2);
    let den_y = invsqrt.mul(&den_x).mul(&v);
    let x = s.add(&s).mul(&den_x).abs();
    let y = u1.mul(&den_y);
    let t = x.mul(&y);
    let valid = canonical & was_square & !t.is_negative() & !y.is_zero();
    (Ep { x, y, z: one, t }, valid)
}

/// RFC 9496 §4.3.2 encode: the 32-byte canonical encoding of each lane.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub fn encode(p: &Ep) -> [[u8; 32]; 8] {
    let sqrt_m1 = Fe::splat(&super::SQRT_M1);
    let u1 = p.z.add(&p.y).mul(&p.z.sub(&p.y));
    let u2 = p.x.mul(&p.y);
    let (_, invsqrt) = Fe::sqrt_ratio_m1(&Fe::one(), &u1.mul(&u2.square()));
    let den1 = invsqrt.mul(&u1);
    let den2 = invsqrt.mul(&u2);
    let z_inv = den1.mul(&den2).mul(&p.t);
    let ix0 = p.x.mul(&sqrt_m1);
    let iy0 = p.y.mul(&sqrt_m1);
    let enchanted_denominator = den1.mul(&Fe::splat(&super::INVSQRT_A_MINUS_D));
    let rotate = p.t.mul(&z_inv).is_negative();
    let x = p.x.select(rotate, &iy0);
    let y = p.y.select(rotate, &ix0);
    let den_inv = den2.select(rotate, &enchanted_denominator);
    let y = y.cond_neg(x.mul(&z_inv).is_negative());
    let s = den_inv.mul(&p.z.sub(&y)).abs();
    s.to_bytes()
}

/// RFC 9496 §4.3.4 MAP of one 32-byte string per lane (bit 255 masked by `Fe::from_bytes`).
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn map(t: &Fe) -> Ep {
    let one = Fe::one();
    let d = Fe::splat(&super::D);
    let r = Fe::splat(&super::SQRT_M1).mul(&t.square());
    let u = r.add(&one).mul(&Fe::splat(&super::ONE_MINUS_D_SQ));
    let v = one.neg().sub(&r.mul(&d)).mul(&r.add(&d));
    let (was_square, s) = Fe::sqrt_ratio_m1(&u, &v);
    let s_prime = s.mul(t).abs().neg();
    let s = s_prime.select(was_square, &s);
    let c = r.select(was_square, &one.neg());
    let n = c
        .mul(&r.sub(&one))
        .mul(&Fe::splat(&super::D_MINUS_ONE_SQ))
        .sub(&v);
    let ss = s.square();
    let w0 = s.add(&s).mul(&v);
    let w1 = n.mul(&Fe::splat(&super::SQRT_AD_MINUS_ONE));
    let w2 = one.sub(&ss);
    let w3 = one.add(&ss);
    Ep {
        x: w0.mul(&w3),
        y: w2.mul(&w1),
        z: w1.mul(&w3),
        t: w0.mul(&w2),
    }
}

/// RFC 9496 §4.3.4 one-way map of 64 uniform bytes per lane: MAP of each half, added.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
pub fn from_uniform_bytes(bytes: &[[u8; 64]; 8]) -> Ep {
    let mut lo = [[0_u8; 32]; 8];
    let mut hi = [[0_u8; 32]; 8];
    for ((l, h), b) in lo.iter_mut().zip(hi.iter_mut()).zip(bytes) {
        l.copy_from_slice(&b[..32]);
        h.copy_from_slice(&b[32..]);
    }
    let p1 = map(&Fe::from_bytes(&lo));
    let p2 = map(&Fe::from_bytes(&hi));
    p1.add_cached(&p2.cached())
}
