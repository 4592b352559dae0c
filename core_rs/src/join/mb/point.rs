//! Eight edwards25519 points at once in extended coordinates (X : Y : Z : T), x = X/Z,
//! y = Y/Z, xy = T/Z, on -x^2 + y^2 = 1 + d x^2 y^2; and the constant-time variable-base
//! multiplication by one secret scalar shared by all lanes.
//!
//! Formulas: Hisil, Wong, Carter, Dawson, "Twisted Edwards curves revisited" (2008), as in the
//! Explicit-Formulas Database: "add-2008-hwcd-3" (a = -1, k = 2d) with the second operand
//! cached as (Y + X, Y - X, 2dT, 2Z), and "dbl-2008-hwcd".

use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::field::Fe;

#[derive(Clone, Copy)]
pub struct Ep {
    pub x: Fe,
    pub y: Fe,
    pub z: Fe,
    pub t: Fe,
}

/// A point prepared as the right operand of an addition: (Y + X, Y - X, 2dT, 2Z).
#[derive(Clone, Copy)]
pub struct Cached {
    ypx: Fe,
    ymx: Fe,
    t2d: Fe,
    z2: Fe,
}

impl Ep {
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    pub fn identity() -> Ep {
        Ep {
            x: Fe::zero(),
            y: Fe::one(),
            z: Fe::one(),
            t: Fe::zero(),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn cached(&self) -> Cached {
        Cached {
            ypx: self.y.add(&self.x),
            ymx: self.y.sub(&self.x),
            t2d: self.t.mul(&Fe::splat(&super::D2)),
            z2: self.z.add(&self.z),
        }
    }

    /// `self + q` (add-2008-hwcd-3).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn add_cached(&self, q: &Cached) -> Ep {
        let a = self.y.sub(&self.x).mul(&q.ymx);
        let b = self.y.add(&self.x).mul(&q.ypx);
        let c = self.t.mul(&q.t2d);
        let d = self.z.mul(&q.z2);
        let e = b.sub(&a);
        let f = d.sub(&c);
        let g = d.add(&c);
        let h = b.add(&a);
        Ep {
            x: e.mul(&f),
            y: g.mul(&h),
            z: f.mul(&g),
            t: e.mul(&h),
        }
    }

    /// `2 self` (dbl-2008-hwcd, a = -1); `T` of the result only computed if `WITH_T`
    /// (the doubling formula does not read the input's `T`).
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn double<const WITH_T: bool>(&self) -> Ep {
        let a = self.x.square();
        let b = self.y.square();
        let zz = self.z.square();
        let c = zz.add(&zz);
        let e = self.x.add(&self.y).square().sub(&a).sub(&b);
        let g = b.sub(&a); // D + B with D = -A
                           // The formula's F = G - C and H = D - B = -(A + B); using -F and -H instead negates
                           // all four coordinates, the same point in extended coordinates, one negation less.
        let f = c.sub(&g);
        let h = a.add(&b);
        Ep {
            x: e.mul(&f),
            y: g.mul(&h),
            z: f.mul(&g),
            t: if WITH_T { e.mul(&h) } else { Fe::zero() },
        }
    }

    /// `s P` in every lane for the secret scalar whose signed radix-16 digits are `digits`.
    /// Constant time: no branch or memory index depends on a digit.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
    pub fn mul_digits(&self, digits: &Digits) -> Ep {
        // table[j] = (j + 1) P.
        let p1 = *self;
        let p2 = p1.double::<true>();
        let c1 = p1.cached();
        let p3 = p2.add_cached(&c1);
        let p4 = p2.double::<true>();
        let p5 = p4.add_cached(&c1);
        let p6 = p3.double::<true>();
        let p7 = p6.add_cached(&c1);
        let p8 = p4.double::<true>();
        let table = [
            c1,
            p2.cached(),
            p3.cached(),
            p4.cached(),
            p5.cached(),
            p6.cached(),
            p7.cached(),
            p8.cached(),
        ];
        let mut q = Ep::identity().add_cached(&select(&table, digits.0[63]));
        for i in (0..63).rev() {
            q = q
                .double::<false>()
                .double::<false>()
                .double::<false>()
                .double::<true>();
            q = q.add_cached(&select(&table, digits.0[i]));
        }
        q
    }
}

/// `d P` from the table of `P..8P`, `d` in [-8, 8]: all eight entries are read and blended
/// under lane masks computed in vector registers, then conditionally negated.
#[inline]
#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn select(table: &[Cached; 8], d: i8) -> Cached {
    let dv = _mm512_set1_epi64(i64::from(d));
    let negative = _mm512_cmplt_epi64_mask(dv, _mm512_setzero_si512());
    let abs = _mm512_abs_epi64(dv);
    // The identity, cached: (1, 1, 0, 2).
    let one = Fe::one();
    let mut r = Cached {
        ypx: one,
        ymx: one,
        t2d: Fe::zero(),
        z2: one.add(&one),
    };
    for (j, entry) in (1_i64..).zip(table) {
        let m = _mm512_cmpeq_epi64_mask(abs, _mm512_set1_epi64(j));
        r = Cached {
            ypx: r.ypx.select(m, &entry.ypx),
            ymx: r.ymx.select(m, &entry.ymx),
            t2d: r.t2d.select(m, &entry.t2d),
            z2: r.z2.select(m, &entry.z2),
        };
    }
    // -(X : Y : Z : T) = (-X : Y : Z : -T): swap Y + X and Y - X, negate 2dT.
    Cached {
        ypx: r.ypx.select(negative, &r.ymx),
        ymx: r.ymx.select(negative, &r.ypx),
        t2d: r.t2d.cond_neg(negative),
        z2: r.z2,
    }
}

/// Signed radix-16 digits of a scalar below 2^255: `s = sum d_i 16^i`, `d_i` in [-8, 8) for
/// i < 63 and `d_63` in [-8, 8]. Wiped when dropped.
pub struct Digits(pub(crate) [i8; 64]);

impl Digits {
    /// The digits of a scalar; its byte copy is wiped.
    pub fn from_scalar(s: &curve25519_dalek::scalar::Scalar) -> Digits {
        let mut bytes = s.to_bytes();
        let d = Digits::new(&bytes);
        bytes.zeroize();
        d
    }

    /// From the canonical little-endian bytes of a scalar (`Scalar::to_bytes`, below 2^253).
    pub fn new(bytes: &[u8; 32]) -> Digits {
        let mut e = [0_i8; 64];
        for (i, b) in bytes.iter().enumerate() {
            e[2 * i] = (b & 15) as i8;
            e[2 * i + 1] = (b >> 4) as i8;
        }
        // Branch-free recentring: e_i + carry in [0, 16]; carry = (e_i + 8) >> 4 in {0, 1}.
        let mut carry = 0_i8;
        for d in e.iter_mut().take(63) {
            *d += carry;
            carry = (*d + 8) >> 4;
            *d -= carry << 4;
        }
        e[63] += carry;
        let d = Digits(e);
        e.zeroize();
        d
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
