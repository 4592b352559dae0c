//! GF(2^128) with the modulus `x^128 + x^7 + x^2 + x + 1`, elements as `u128` (bit `i` is
//! the coefficient of `x^i`). Addition is XOR; multiplication uses PCLMULQDQ when the CPU
//! has it (detected at run time) and a portable shift-and-add loop otherwise.

/// Reduce the 256-bit carry-less product `hi * x^128 + lo`.
#[inline(always)]
fn reduce(hi: u128, lo: u128) -> u128 {
    // x^128 = x^7 + x^2 + x + 1: fold `hi` once, then fold the (at most 7) bits that the
    // shifts pushed past x^127.
    let folded = hi ^ (hi << 1) ^ (hi << 2) ^ (hi << 7);
    let over = (hi >> 127) ^ (hi >> 126) ^ (hi >> 121);
    lo ^ folded ^ over ^ (over << 1) ^ (over << 2) ^ (over << 7)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
fn mul_clmul(a: u128, b: u128) -> u128 {
    use core::arch::x86_64::{__m128i, _mm_clmulepi64_si128, _mm_set_epi64x, _mm_storeu_si128};
    let va = _mm_set_epi64x((a >> 64) as i64, a as i64);
    let vb = _mm_set_epi64x((b >> 64) as i64, b as i64);
    let ll = _mm_clmulepi64_si128::<0x00>(va, vb);
    let lh = _mm_clmulepi64_si128::<0x10>(va, vb);
    let hl = _mm_clmulepi64_si128::<0x01>(va, vb);
    let hh = _mm_clmulepi64_si128::<0x11>(va, vb);
    let load = |v: __m128i| -> u128 {
        let mut out = [0_u8; 16];
        // SAFETY: `out` is 16 writable bytes; the store is unaligned.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), v) };
        u128::from_le_bytes(out)
    };
    let mid = load(lh) ^ load(hl);
    let lo = load(ll) ^ (mid << 64);
    let hi = load(hh) ^ (mid >> 64);
    reduce(hi, lo)
}

/// Portable carry-less 128 x 128 multiplication, then reduction.
fn mul_portable(a: u128, b: u128) -> u128 {
    let (mut hi, mut lo) = (0_u128, 0_u128);
    for i in 0..128 {
        if (b >> i) & 1 == 1 {
            lo ^= a << i;
            if i > 0 {
                hi ^= a >> (128 - i);
            }
        }
    }
    reduce(hi, lo)
}

#[cfg(target_arch = "x86_64")]
fn has_clmul() -> bool {
    std::arch::is_x86_feature_detected!("pclmulqdq")
}

/// `a * b` in GF(2^128).
#[inline]
pub fn mul(a: u128, b: u128) -> u128 {
    #[cfg(target_arch = "x86_64")]
    if has_clmul() {
        // SAFETY: the CPU supports PCLMULQDQ (checked above); SSE2 is baseline on x86_64.
        return unsafe { mul_clmul(a, b) };
    }
    mul_portable(a, b)
}

/// `a * x` in GF(2^128).
#[inline]
pub fn mul_x(a: u128) -> u128 {
    let carry = a >> 127;
    (a << 1) ^ (carry * 0x87)
}

/// `sum_i v[i] * x^i` (the gadget that turns 128 bit-correlations into one field element).
pub fn gadget(v: &[u128]) -> u128 {
    v.iter().rev().fold(0, |acc, &t| mul_x(acc) ^ t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnd(seed: &mut u128) -> u128 {
        *seed = seed
            .wrapping_mul(0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645)
            .wrapping_add(0x5851_F42D_4C95_7F2D_1405_7B7E_F767_814F);
        *seed ^ (*seed >> 61)
    }

    #[test]
    fn clmul_matches_portable_and_field_laws_hold() {
        let mut s = 7_u128;
        for _ in 0..2000 {
            let (a, b, c) = (rnd(&mut s), rnd(&mut s), rnd(&mut s));
            assert_eq!(mul(a, b), mul_portable(a, b));
            assert_eq!(mul(a, b), mul(b, a));
            assert_eq!(mul(a, b ^ c), mul(a, b) ^ mul(a, c));
            assert_eq!(mul(mul(a, b), c), mul(a, mul(b, c)));
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 2), mul_x(a));
        }
        // x^127 * x = x^128 = x^7 + x^2 + x + 1
        assert_eq!(mul(1 << 127, 2), 0x87);
    }

    #[test]
    fn gadget_is_sum_of_powers() {
        let mut s = 3_u128;
        let v: Vec<u128> = (0..128).map(|_| rnd(&mut s)).collect();
        let mut want = 0;
        let mut p = 1_u128;
        for &t in &v {
            want ^= mul(t, p);
            p = mul_x(p);
        }
        assert_eq!(gadget(&v), want);
    }
}
