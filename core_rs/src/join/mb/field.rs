//! GF(2^255 - 19), eight elements at once: one element per 64-bit lane of five `__m512i`.
//!
//! Radix 2^51 (limb `i` has weight 2^(51 i)), so `2^255 = 19 (mod p)` folds the top half of a
//! product with a multiplication by 19. The limbs are fed to AVX-512 IFMA
//! (`vpmadd52luq` / `vpmadd52huq`), which multiply the low 52 bits of each lane: every limb
//! given to [`Fe::mul`] / [`Fe::square`] must be below 2^52. The "loose" invariant kept by
//! every operation here is *each limb < 2^51 + 2^16* (see `carry`), below 2^52.
//! The high half of an IFMA product has weight 2^52 = 2 * 2^51, hence the doubling of the
//! `hi` accumulators.
//!
//! Everything here is branch-free and table-free: masks are `__mmask8` lane masks.

use core::arch::x86_64::*;

const MASK51: u64 = (1 << 51) - 1;

/// 2p in radix 2^51 (each limb at least 2^52 - 38, above any loose limb): the bias of `sub`.
const TWO_P: [u64; 5] = [
    2 * ((1 << 51) - 19),
    2 * MASK51,
    2 * MASK51,
    2 * MASK51,
    2 * MASK51,
];

/// Eight field elements, limbs `0[i]`, lane `j` of each vector belongs to element `j`.
#[derive(Clone, Copy)]
pub struct Fe(pub [__m512i; 5]);

#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn mul19(x: __m512i) -> __m512i {
    // One `vpmullq`; used on values below 2^58 only.
    _mm512_mullo_epi64(x, _mm512_set1_epi64(19))
}

/// One parallel carry round: limbs below 2^60 in, `limb < 2^51 + 19 * (max carry)` out.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn carry(z: [__m512i; 5]) -> [__m512i; 5] {
    let m = _mm512_set1_epi64(MASK51 as i64);
    let c = z.map(|v| _mm512_srli_epi64::<51>(v));
    let l = z.map(|v| _mm512_and_si512(v, m));
    [
        _mm512_add_epi64(l[0], mul19(c[4])),
        _mm512_add_epi64(l[1], c[0]),
        _mm512_add_epi64(l[2], c[1]),
        _mm512_add_epi64(l[3], c[2]),
        _mm512_add_epi64(l[4], c[3]),
    ]
}

/// Reduce 10 product columns (weight 2^(51 k), each below 2^57) to a loose element.
#[inline]
#[target_feature(enable = "avx512f,avx512dq")]
fn reduce_columns(z: [__m512i; 10]) -> Fe {
    // 2^255 = 19: column k + 5 folds onto column k. Each sum stays below 2^62.
    let r = [
        _mm512_add_epi64(z[0], mul19(z[5])),
        _mm512_add_epi64(z[1], mul19(z[6])),
        _mm512_add_epi64(z[2], mul19(z[7])),
        _mm512_add_epi64(z[3], mul19(z[8])),
        _mm512_add_epi64(z[4], mul19(z[9])),
    ];
    // One round: carries below 2^11, so limbs 1..4 < 2^51 + 2^11 and limb 0 below
    // 2^51 + 19 * 2^11 < 2^51 + 2^16: loose.
    Fe(carry(r))
}

impl Fe {
    /// The same element in all eight lanes, from radix-2^51 limbs (each below 2^51).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn splat(l: &[u64; 5]) -> Fe {
        Fe(l.map(|x| _mm512_set1_epi64(x as i64)))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn zero() -> Fe {
        Fe([_mm512_setzero_si512(); 5])
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn one() -> Fe {
        Fe::splat(&[1, 0, 0, 0, 0])
    }

    /// Eight elements from their radix-2^51 limbs, `lanes[j]` for lane `j` (loose limbs).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn from_limbs(lanes: &[[u64; 5]; 8]) -> Fe {
        let limb = |i: usize| {
            _mm512_set_epi64(
                lanes[7][i] as i64,
                lanes[6][i] as i64,
                lanes[5][i] as i64,
                lanes[4][i] as i64,
                lanes[3][i] as i64,
                lanes[2][i] as i64,
                lanes[1][i] as i64,
                lanes[0][i] as i64,
            )
        };
        Fe([limb(0), limb(1), limb(2), limb(3), limb(4)])
    }

    /// The limbs of each lane as stored (not reduced).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn to_limbs(self) -> [[u64; 5]; 8] {
        let mut v = [[0_u64; 8]; 5];
        for (dst, src) in v.iter_mut().zip(self.0) {
            // SAFETY: `dst` is a writable, 64-byte `[u64; 8]`; the store is unaligned.
            unsafe { _mm512_storeu_epi64(dst.as_mut_ptr().cast::<i64>(), src) };
        }
        let mut out = [[0_u64; 5]; 8];
        for (j, lane) in out.iter_mut().enumerate() {
            for (i, limb) in lane.iter_mut().enumerate() {
                *limb = v[i][j];
            }
        }
        out
    }

    /// Eight elements from 32 little-endian bytes each; bit 255 is ignored (as RFC 9496's
    /// decoding and MAP do before their own checks). Values in [p, 2^255) are accepted here.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn from_bytes(bytes: &[[u8; 32]; 8]) -> Fe {
        let mut lanes = [[0_u64; 5]; 8];
        for (l, b) in lanes.iter_mut().zip(bytes) {
            *l = limbs_from_bytes(b);
        }
        Fe::from_limbs(&lanes)
    }

    /// Canonical little-endian encoding of each lane.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn to_bytes(self) -> [[u8; 32]; 8] {
        let lanes = self.canonical().to_limbs();
        let mut out = [[0_u8; 32]; 8];
        for (o, l) in out.iter_mut().zip(&lanes) {
            *o = bytes_from_limbs(l);
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn add(&self, b: &Fe) -> Fe {
        let a = &self.0;
        let b = &b.0;
        // Loose + loose < 2^52 + 2^17: carries <= 2, limb 0 gets at most 38: loose.
        Fe(carry([
            _mm512_add_epi64(a[0], b[0]),
            _mm512_add_epi64(a[1], b[1]),
            _mm512_add_epi64(a[2], b[2]),
            _mm512_add_epi64(a[3], b[3]),
            _mm512_add_epi64(a[4], b[4]),
        ]))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn sub(&self, b: &Fe) -> Fe {
        let a = &self.0;
        let b = &b.0;
        // a + 2p - b: every limb non-negative (2p's limbs exceed loose limbs) and below 2^53,
        // so carries <= 3 and limb 0 gets at most 57: loose.
        let t = |i: usize| {
            _mm512_sub_epi64(
                _mm512_add_epi64(a[i], _mm512_set1_epi64(TWO_P[i] as i64)),
                b[i],
            )
        };
        Fe(carry([t(0), t(1), t(2), t(3), t(4)]))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn neg(&self) -> Fe {
        Fe::zero().sub(self)
    }

    /// Product of loose elements (limbs < 2^52 as IFMA needs), loose result.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn mul(&self, b: &Fe) -> Fe {
        let a = &self.0;
        let b = &b.0;
        let zero = _mm512_setzero_si512();
        // lo[k]: low halves of a_i b_j with i + j = k; hi[k]: high halves with i + j + 1 = k.
        let mut lo = [zero; 10];
        let mut hi = [zero; 10];
        for i in 0..5 {
            for j in 0..5 {
                lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], a[i], b[j]);
                hi[i + j + 1] = _mm512_madd52hi_epu64(hi[i + j + 1], a[i], b[j]);
            }
        }
        // Column k = lo[k] + 2 hi[k] (at most 5 + 2 * 5 terms below 2^52: < 2^56).
        let mut z = [zero; 10];
        for k in 0..10 {
            z[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64::<1>(hi[k]));
        }
        reduce_columns(z)
    }

    /// Square of a loose element, loose result (cross products computed once, doubled).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn square(&self) -> Fe {
        let a = &self.0;
        let zero = _mm512_setzero_si512();
        // Accumulators by weight factor: x1 (low halves of a_i^2), x2 (high halves of a_i^2
        // and low halves of the cross products a_i a_j, i < j, which count twice), x4 (high
        // halves of the cross products).
        let mut x1 = [zero; 10];
        let mut x2 = [zero; 10];
        let mut x4 = [zero; 10];
        for i in 0..5 {
            x1[2 * i] = _mm512_madd52lo_epu64(x1[2 * i], a[i], a[i]);
            x2[2 * i + 1] = _mm512_madd52hi_epu64(x2[2 * i + 1], a[i], a[i]);
            for j in i + 1..5 {
                x2[i + j] = _mm512_madd52lo_epu64(x2[i + j], a[i], a[j]);
                x4[i + j + 1] = _mm512_madd52hi_epu64(x4[i + j + 1], a[i], a[j]);
            }
        }
        // Column k = x1 + 2 x2 + 4 x4: the same terms as in `mul`, so the same bound.
        let mut z = [zero; 10];
        for k in 0..10 {
            let twice = _mm512_add_epi64(x2[k], _mm512_slli_epi64::<1>(x4[k]));
            z[k] = _mm512_add_epi64(x1[k], _mm512_slli_epi64::<1>(twice));
        }
        reduce_columns(z)
    }

    /// `self^(2^k)` for k >= 1.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn pow2k(&self, k: u32) -> Fe {
        let mut r = self.square();
        for _ in 1..k {
            r = r.square();
        }
        r
    }

    /// The unique representative in [0, p), limbs below 2^51.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn canonical(&self) -> Fe {
        let m = _mm512_set1_epi64(MASK51 as i64);
        let mut l = self.0;
        // Two sequential carry passes with wrap-around: every limb below 2^51, value < 2^255.
        for _ in 0..2 {
            for i in 0..4 {
                l[i + 1] = _mm512_add_epi64(l[i + 1], _mm512_srli_epi64::<51>(l[i]));
                l[i] = _mm512_and_si512(l[i], m);
            }
            l[0] = _mm512_add_epi64(l[0], mul19(_mm512_srli_epi64::<51>(l[4])));
            l[4] = _mm512_and_si512(l[4], m);
        }
        // q = 1 iff value >= p, i.e. value + 19 >= 2^255; then subtract q p = add 19 q and
        // drop bit 255.
        let mut q = _mm512_srli_epi64::<51>(_mm512_add_epi64(l[0], _mm512_set1_epi64(19)));
        for li in &l[1..] {
            q = _mm512_srli_epi64::<51>(_mm512_add_epi64(*li, q));
        }
        l[0] = _mm512_add_epi64(l[0], mul19(q));
        for i in 0..4 {
            l[i + 1] = _mm512_add_epi64(l[i + 1], _mm512_srli_epi64::<51>(l[i]));
            l[i] = _mm512_and_si512(l[i], m);
        }
        l[4] = _mm512_and_si512(l[4], m);
        Fe(l)
    }

    /// Lanes whose canonical form is odd ("negative" in RFC 9496).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn is_negative(&self) -> __mmask8 {
        _mm512_test_epi64_mask(self.canonical().0[0], _mm512_set1_epi64(1))
    }

    /// Lanes where `self == b` in the field.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn ct_eq(&self, b: &Fe) -> __mmask8 {
        let a = self.canonical().0;
        let b = b.canonical().0;
        let mut m: __mmask8 = 0xff;
        for i in 0..5 {
            m &= _mm512_cmpeq_epi64_mask(a[i], b[i]);
        }
        m
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn is_zero(&self) -> __mmask8 {
        self.ct_eq(&Fe::zero())
    }

    /// `b` in the lanes of `mask`, `self` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn select(&self, mask: __mmask8, b: &Fe) -> Fe {
        let a = &self.0;
        let b = &b.0;
        Fe([
            _mm512_mask_blend_epi64(mask, a[0], b[0]),
            _mm512_mask_blend_epi64(mask, a[1], b[1]),
            _mm512_mask_blend_epi64(mask, a[2], b[2]),
            _mm512_mask_blend_epi64(mask, a[3], b[3]),
            _mm512_mask_blend_epi64(mask, a[4], b[4]),
        ])
    }

    /// `-self` in the lanes of `mask`, `self` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn cond_neg(&self, mask: __mmask8) -> Fe {
        self.select(mask, &self.neg())
    }

    /// `|self|`: the non-negative one of `self`, `-self`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn abs(&self) -> Fe {
        self.cond_neg(self.is_negative())
    }

    /// `self^(2^252 - 3)` = `self^((p - 5) / 8)`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn pow_p58(&self) -> Fe {
        let x = self;
        let x2 = x.square();
        let x9 = x2.pow2k(2).mul(x);
        let x11 = x9.mul(&x2);
        let e5 = x11.square().mul(&x9); // 2^5 - 1
        let e10 = e5.pow2k(5).mul(&e5); // 2^10 - 1
        let e20 = e10.pow2k(10).mul(&e10);
        let e40 = e20.pow2k(20).mul(&e20);
        let e50 = e40.pow2k(10).mul(&e10);
        let e100 = e50.pow2k(50).mul(&e50);
        let e200 = e100.pow2k(100).mul(&e100);
        let e250 = e200.pow2k(50).mul(&e50);
        // 4 (2^250 - 1) + 1 = 2^252 - 3.
        e250.pow2k(2).mul(x)
    }

    /// RFC 9496 §4.2 `SQRT_RATIO_M1(u, v)`: `(was_square, r)` with `r` non-negative,
    /// `r = sqrt(u / v)` if that is a square, else `sqrt(i u / v)`; `(true, 0)` if `u = 0`,
    /// `(false, 0)` if `v = 0` and `u != 0`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn sqrt_ratio_m1(u: &Fe, v: &Fe) -> (__mmask8, Fe) {
        let sqrt_m1 = Fe::splat(&super::SQRT_M1);
        let v3 = v.square().mul(v);
        let v7 = v3.square().mul(v);
        let r = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
        let check = v.mul(&r.square());
        let neg_u = u.neg();
        let correct = check.ct_eq(u);
        let flipped = check.ct_eq(&neg_u);
        let flipped_i = check.ct_eq(&neg_u.mul(&sqrt_m1));
        let r = r.select(flipped | flipped_i, &r.mul(&sqrt_m1)).abs();
        (correct | flipped, r)
    }
}

/// Radix-2^51 limbs of a 32-byte little-endian value, bit 255 dropped.
#[inline]
pub fn limbs_from_bytes(b: &[u8; 32]) -> [u64; 5] {
    let w = words(b);
    [
        w[0] & MASK51,
        ((w[0] >> 51) | (w[1] << 13)) & MASK51,
        ((w[1] >> 38) | (w[2] << 26)) & MASK51,
        ((w[2] >> 25) | (w[3] << 39)) & MASK51,
        (w[3] >> 12) & MASK51,
    ]
}

/// 32 little-endian bytes of limbs below 2^51.
#[inline]
pub fn bytes_from_limbs(l: &[u64; 5]) -> [u8; 32] {
    let w = [
        l[0] | (l[1] << 51),
        (l[1] >> 13) | (l[2] << 38),
        (l[2] >> 26) | (l[3] << 25),
        (l[3] >> 39) | (l[4] << 12),
    ];
    let mut out = [0_u8; 32];
    for (o, w) in out.chunks_exact_mut(8).zip(w) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn words(b: &[u8; 32]) -> [u64; 4] {
    let mut w = [0_u64; 4];
    for (w, c) in w.iter_mut().zip(b.chunks_exact(8)) {
        let mut a = [0_u8; 8];
        a.copy_from_slice(c);
        *w = u64::from_le_bytes(a);
    }
    w
}

/// Whether 32 bytes are the canonical encoding of a field element: bit 255 clear and the
/// value below p. (Public data only: this branches.)
pub fn is_canonical(b: &[u8; 32]) -> bool {
    let w = words(b);
    if w[3] >> 63 != 0 {
        return false;
    }
    // value >= p iff w3 = 2^63 - 1, w2 = w1 = 2^64 - 1 and w0 >= 2^64 - 19.
    !(w[3] == u64::MAX >> 1 && w[2] == u64::MAX && w[1] == u64::MAX && w[0] >= u64::MAX - 18)
}
