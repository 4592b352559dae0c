//! The proof of the multi-buffer code: field arithmetic against a plain `u128` reference and
//! algebraic identities; every ristretto255 operation bit-for-bit against curve25519-dalek on
//! thousands of random inputs and edge cases; RFC 9496 Appendix A. Skipped (with a message)
//! on CPUs without AVX-512 IFMA.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;
use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

use super::field::{bytes_from_limbs, is_canonical, limbs_from_bytes, Fe};
use super::{Digits, Ifma};

const MASK51: u64 = (1 << 51) - 1;

fn ifma(test: &str) -> Option<Ifma> {
    let t = Ifma::detect();
    if t.is_none() {
        eprintln!("{test}: skipped, the CPU has no AVX-512 IFMA");
    }
    t
}

/// splitmix64: deterministic test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0_u8; N];
        for c in out.chunks_mut(8) {
            let w = self.next().to_le_bytes();
            c.copy_from_slice(&w[..c.len()]);
        }
        out
    }
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0_u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

// ---- field reference: one element, radix 2^51, u128 products ----

fn ref_canonical(mut l: [u64; 5]) -> [u64; 5] {
    for _ in 0..3 {
        for i in 0..4 {
            l[i + 1] += l[i] >> 51;
            l[i] &= MASK51;
        }
        l[0] += 19 * (l[4] >> 51);
        l[4] &= MASK51;
    }
    // Now < 2^255; subtract p once if needed.
    let ge_p = l[0] >= MASK51 - 18 && l[1..].iter().all(|&x| x == MASK51);
    if ge_p {
        l[0] -= MASK51 - 18;
        for x in &mut l[1..] {
            *x = 0;
        }
    }
    l
}

fn ref_mul(a: &[u64; 5], b: &[u64; 5]) -> [u64; 5] {
    let mut z = [0_u128; 9];
    for i in 0..5 {
        for j in 0..5 {
            z[i + j] += u128::from(a[i]) * u128::from(b[j]);
        }
    }
    for k in (5..9).rev() {
        z[k - 5] += 19 * z[k];
        z[k] = 0;
    }
    // Carry in u128 then wrap.
    let mut r = [0_u128; 5];
    r.copy_from_slice(&z[..5]);
    for _ in 0..3 {
        for i in 0..4 {
            r[i + 1] += r[i] >> 51;
            r[i] &= u128::from(MASK51);
        }
        r[0] += 19 * (r[4] >> 51);
        r[4] &= u128::from(MASK51);
    }
    ref_canonical(r.map(|x| x as u64))
}

fn ref_add(a: &[u64; 5], b: &[u64; 5]) -> [u64; 5] {
    let mut r = [0; 5];
    for i in 0..5 {
        r[i] = a[i] + b[i];
    }
    ref_canonical(r)
}

#[target_feature(enable = "avx512f,avx512dq")]
fn fe_canon(x: &Fe) -> [[u64; 5]; 8] {
    x.canonical().to_limbs()
}

/// Random loose limbs: any value up to the invariant's bound (< 2^51 + 2^16).
fn random_loose(r: &mut Rng) -> [[u64; 5]; 8] {
    let mut out = [[0_u64; 5]; 8];
    for lane in &mut out {
        for l in lane.iter_mut() {
            *l = match r.next() % 8 {
                0 => MASK51 + 1 + r.next() % 0xffff,
                1 => MASK51,
                2 => 0,
                _ => r.next() & MASK51,
            };
        }
    }
    out
}

#[target_feature(enable = "avx512f,avx512dq,avx512ifma")]
fn field_checks() {
    let mut rng = Rng(1);
    for _ in 0..2000 {
        let (la, lb, lc) = (
            random_loose(&mut rng),
            random_loose(&mut rng),
            random_loose(&mut rng),
        );
        let (a, b, c) = (
            Fe::from_limbs(&la),
            Fe::from_limbs(&lb),
            Fe::from_limbs(&lc),
        );
        let ab = a.mul(&b);
        let got = fe_canon(&ab);
        for j in 0..8 {
            assert_eq!(got[j], ref_mul(&la[j], &lb[j]));
        }
        assert_eq!(fe_canon(&ab), fe_canon(&b.mul(&a)));
        assert_eq!(fe_canon(&ab.mul(&c)), fe_canon(&a.mul(&b.mul(&c))));
        assert_eq!(fe_canon(&a.square()), fe_canon(&a.mul(&a)));
        let sum = fe_canon(&a.add(&b));
        for j in 0..8 {
            assert_eq!(sum[j], ref_add(&la[j], &lb[j]));
        }
        assert_eq!(fe_canon(&a.add(&b).sub(&b)), fe_canon(&a));
        assert_eq!(fe_canon(&a.sub(&b).add(&b)), fe_canon(&a));
        assert_eq!(fe_canon(&a.add(&a.neg())), [[0; 5]; 8]);
        // Distributivity over a chain of operations (exercises loose outputs as inputs).
        assert_eq!(
            fe_canon(&a.add(&b).mul(&c)),
            fe_canon(&a.mul(&c).add(&b.mul(&c)))
        );
        assert_eq!(
            fe_canon(&a.sub(&b).mul(&c)),
            fe_canon(&a.mul(&c).sub(&b.mul(&c)))
        );
        // Byte round trip of canonical values, and ct_eq / select.
        let bytes = ab.to_bytes();
        for (j, b) in bytes.iter().enumerate() {
            assert!(is_canonical(b));
            assert_eq!(limbs_from_bytes(b), got[j]);
        }
        assert_eq!(fe_canon(&Fe::from_bytes(&bytes)), got);
        assert_eq!(ab.ct_eq(&b.mul(&a)), 0xff);
        let sel = a.select(0b1010_0101, &b);
        let (sa, sb, ss) = (fe_canon(&a), fe_canon(&b), fe_canon(&sel));
        for j in 0..8 {
            assert_eq!(
                ss[j],
                if (0b1010_0101 >> j) & 1 == 1 {
                    sb[j]
                } else {
                    sa[j]
                }
            );
        }
    }

    // Edge values as bytes: 0, 1, p - 1, p, p + 1, 2^255 - 1 (bit 255 is dropped, so
    // 2^256 - 1 reads as 2^255 - 1 = p + 18).
    let p = hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let mut pm1 = p;
    pm1[0] -= 1;
    let mut pp1 = p;
    pp1[0] += 1;
    let max255 = hex32("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let max256 = [0xff_u8; 32];
    let mut one = [0_u8; 32];
    one[0] = 1;
    let mut v18 = [0_u8; 32];
    v18[0] = 18;
    let cases: [([u8; 32], [u8; 32]); 8] = [
        ([0; 32], [0; 32]),
        (one, one),
        (pm1, pm1),
        (p, [0; 32]),
        (pp1, one),
        (max255, v18),
        (max256, v18),
        ([0; 32], [0; 32]),
    ];
    let input: [[u8; 32]; 8] = cases.map(|c| c.0);
    let expect: [[u8; 32]; 8] = cases.map(|c| c.1);
    assert_eq!(Fe::from_bytes(&input).to_bytes(), expect);
    for (b, e) in input.iter().zip(&expect) {
        assert_eq!(is_canonical(b), b == e);
    }
    // (p - 1)^2 = 1.
    let m1 = Fe::from_bytes(&[pm1; 8]);
    assert_eq!(m1.square().to_bytes(), [one; 8]);

    // Every limb at the loose maximum 2^51 + 2^16 - 1: value 2^255 - 1 + 2^16 (1 + 2^51 +
    // ... + 2^204) = 18 + 2^16 (...) mod p, i.e. limbs [2^16 + 18, 2^16, 2^16, 2^16, 2^16].
    const K: u64 = 1 << 16;
    let top_limbs = [K + 18, K, K, K, K];
    let top = Fe::from_limbs(&[[MASK51 + K; 5]; 8]);
    assert_eq!(fe_canon(&top), [top_limbs; 8]);
    let expect_sq = ref_mul(&top_limbs, &top_limbs);
    assert_eq!(expect_sq, ref_mul(&[MASK51 + K; 5], &[MASK51 + K; 5]));
    assert_eq!(fe_canon(&top.square())[3], expect_sq);
    assert_eq!(fe_canon(&top.mul(&top))[5], expect_sq);
    assert_eq!(fe_canon(&top.add(&top).sub(&top)), [top_limbs; 8]);
    assert_eq!(bytes_from_limbs(&top_limbs), top.to_bytes()[0], "to_bytes");

    // The constants: SQRT_M1^2 = -1, d * 121666 = -121665, 2d = d + d,
    // SQRT_AD_MINUS_ONE^2 = -d - 1, INVSQRT_A_MINUS_D^2 (-1 - d) = 1,
    // ONE_MINUS_D_SQ = 1 - d^2, D_MINUS_ONE_SQ = (d - 1)^2.
    let one = Fe::one();
    let d = Fe::splat(&super::D);
    let i = Fe::splat(&super::SQRT_M1);
    assert_eq!(fe_canon(&i.square()), fe_canon(&one.neg()));
    assert_eq!(
        fe_canon(&d.mul(&Fe::splat(&[121_666, 0, 0, 0, 0]))),
        fe_canon(&Fe::splat(&[121_665, 0, 0, 0, 0]).neg())
    );
    assert_eq!(fe_canon(&Fe::splat(&super::D2)), fe_canon(&d.add(&d)));
    assert_eq!(
        fe_canon(&Fe::splat(&super::SQRT_AD_MINUS_ONE).square()),
        fe_canon(&d.neg().sub(&one))
    );
    assert_eq!(
        fe_canon(
            &Fe::splat(&super::INVSQRT_A_MINUS_D)
                .square()
                .mul(&one.neg().sub(&d))
        ),
        fe_canon(&one)
    );
    assert_eq!(
        fe_canon(&Fe::splat(&super::ONE_MINUS_D_SQ)),
        fe_canon(&one.sub(&d.square()))
    );
    assert_eq!(
        fe_canon(&Fe::splat(&super::D_MINUS_ONE_SQ)),
        fe_canon(&d.sub(&one).square())
    );

    // sqrt_ratio_m1: squares of random elements have roots; i * square does not.
    for _ in 0..200 {
        let x = Fe::from_limbs(&random_loose(&mut rng));
        let v = Fe::from_limbs(&random_loose(&mut rng));
        let u = x.square().mul(&v);
        let (ok, r) = Fe::sqrt_ratio_m1(&u, &v);
        let zero_v = v.is_zero();
        assert_eq!(ok | zero_v, 0xff);
        assert_eq!(r.is_negative() & !zero_v, 0);
        assert_eq!(r.square().mul(&v).ct_eq(&u) | zero_v, 0xff);
        let (ok, _) = Fe::sqrt_ratio_m1(&u.mul(&i), &v);
        assert_eq!(ok & !x.is_zero() & !zero_v, 0);
    }
}

#[test]
fn field_arithmetic() {
    if ifma("field_arithmetic").is_none() {
        return;
    }
    // SAFETY: the CPU has avx512f, avx512dq and avx512ifma (checked above).
    unsafe { field_checks() }
}

#[test]
fn digits_recompose() {
    let mut rng = Rng(2);
    let l_minus_1 = (-Scalar::ONE).to_bytes();
    let mut cases: Vec<[u8; 32]> = vec![[0; 32], Scalar::ONE.to_bytes(), l_minus_1];
    cases
        .extend((0..500).map(|_| Scalar::from_bytes_mod_order_wide(&rng.bytes::<64>()).to_bytes()));
    for b in cases {
        let d = Digits::new(&b);
        let mut acc = Scalar::ZERO;
        for &x in d.0.iter().rev() {
            acc *= Scalar::from(16_u64);
            assert!((-8..=8).contains(&x));
            acc += if x < 0 {
                -Scalar::from(u64::from(x.unsigned_abs()))
            } else {
                Scalar::from(x as u64)
            };
        }
        assert_eq!(acc.to_bytes(), b);
        assert!(d.0[..63].iter().all(|&x| (-8..8).contains(&x)));
    }
}

fn scalars(rng: &mut Rng) -> Vec<Scalar> {
    let mut v = vec![
        Scalar::ZERO,
        Scalar::ONE,
        -Scalar::ONE,
        Scalar::from(2_u64),
        Scalar::from(7_u64),
        Scalar::from(8_u64),
        Scalar::from(9_u64),
        Scalar::from(16_u64),
        -Scalar::from(8_u64),
        Scalar::from(0x8888_8888_8888_8888_u64),
    ];
    v.extend((0..40).map(|_| Scalar::from_bytes_mod_order_wide(&rng.bytes::<64>())));
    v
}

#[test]
fn from_uniform_bytes_and_mul_equal_dalek() {
    let Some(t) = ifma("from_uniform_bytes_and_mul_equal_dalek") else {
        return;
    };
    let mut rng = Rng(3);
    for _ in 0..500 {
        let u: [[u8; 64]; 8] = core::array::from_fn(|_| rng.bytes::<64>());
        let got = t.hash_encode(&u);
        for (ui, g) in u.iter().zip(&got) {
            assert_eq!(
                *g,
                RistrettoPoint::from_uniform_bytes(ui).compress().to_bytes()
            );
        }
    }
    let mut checked = 0;
    for s in scalars(&mut rng) {
        let digits = Digits::new(&s.to_bytes());
        for _ in 0..8 {
            let u: [[u8; 64]; 8] = core::array::from_fn(|_| rng.bytes::<64>());
            let got = t.hash_mul_encode(&u, &digits);
            let points: Vec<RistrettoPoint> =
                u.iter().map(RistrettoPoint::from_uniform_bytes).collect();
            for (p, g) in points.iter().zip(&got) {
                assert_eq!(*g, (p * s).compress().to_bytes());
                checked += 1;
            }
            let enc: [[u8; 32]; 8] = core::array::from_fn(|j| points[j].compress().to_bytes());
            let (got, valid) = t.decode_mul_encode(&enc, &digits);
            assert_eq!(valid, 0xff);
            for (p, g) in points.iter().zip(&got) {
                assert_eq!(*g, (p * s).compress().to_bytes());
            }
        }
    }
    assert!(checked >= 3000);
}

#[test]
fn decode_equals_dalek() {
    let Some(t) = ifma("decode_equals_dalek") else {
        return;
    };
    let mut rng = Rng(4);
    let mut accepted = 0;
    let mut check = |enc: &[[u8; 32]; 8]| {
        let (re, valid) = t.decode_encode(enc);
        for (j, e) in enc.iter().enumerate() {
            let dalek = CompressedRistretto(*e).decompress();
            assert_eq!((valid >> j) & 1 == 1, dalek.is_some(), "{e:02x?}");
            if dalek.is_some() {
                assert_eq!(re[j], *e);
                accepted += 1;
            }
        }
    };
    for round in 0..1500 {
        let enc: [[u8; 32]; 8] = core::array::from_fn(|j| {
            let mut b = rng.bytes::<32>();
            match (round + j) % 4 {
                // A valid encoding, or one with a bit flipped.
                0 | 1 => {
                    let p = RistrettoPoint::from_uniform_bytes(&rng.bytes::<64>());
                    let mut e = p.compress().to_bytes();
                    if (round + j) % 4 == 1 {
                        let bit = (rng.next() % 256) as usize;
                        e[bit / 8] ^= 1 << (bit % 8);
                    }
                    e
                }
                // Random, with bit 255 and the sign bit cleared half the time.
                2 => {
                    b[31] &= 0x7f;
                    b[0] &= 0xfe;
                    b
                }
                _ => b,
            }
        });
        check(&enc);
    }
    // Edge encodings: zeros (the identity, valid here; refused by `decode_point`), p - 1,
    // p, 2^255 - 1, negative s, the high bit set on a valid encoding.
    let p = hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let mut pm1 = p;
    pm1[0] -= 1;
    let mut pm2 = p;
    pm2[0] -= 2;
    let max255 = hex32("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    let g = RISTRETTO_BASEPOINT_POINT.compress().to_bytes();
    let mut g_high = g;
    g_high[31] |= 0x80;
    let mut odd = g;
    odd[0] |= 1;
    check(&[[0; 32], pm1, p, max255, g, g_high, odd, pm2]);
    assert!(accepted > 3000, "{accepted}");
}

/// RFC 9496 Appendix A.1 (A.2 and A.3 below): the encodings of 0..15 times the generator.
const MULTIPLES: [&str; 16] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
    "da80862773358b466ffadfe0b3293ab3d9fd53c5ea6c955358f568322daf6a57",
    "e882b131016b52c1d3337080187cf768423efccbb517bb495ab812c4160ff44e",
    "f64746d3c92b13050ed8d80236a7f0007c3b3f962f5ba793d19a601ebb1df403",
    "44f53520926ec81fbd5a387845beb7df85a96a24ece18738bdcfa6a7822a176d",
    "903293d8f2287ebe10e2374dc1a53e0bc887e592699f02d077d5263cdd55601c",
    "02622ace8f7303a31cafc63f8fc48fdc16e1c8c8d234b2f0d6685282a9076031",
    "20706fd788b2720a1ed2a5dad4952b01f413bcf0e7564de8cdc816689e2db95f",
    "bce83f8ba5dd2fa572864c24ba1810f9522bc6004afe95877ac73241cafdab42",
    "e4549ee16b9aa03099ca208c67adafcafa4c3f3e4e5303de6026e3ca8ff84460",
    "aa52e000df2e16f55fb1032fc33bc42742dad6bd5a8fc0be0167436c5948501f",
    "46376b80f409b29dc2b5f6f0c52591990896e5716f41477cd30085ab7f10301e",
    "e0c418f7c8d9c4cdd7395b93ea124f3ad99021bb681dfc3302a9d99a2e53e64e",
];

/// RFC 9496 Appendix A.2: invalid encodings.
const BAD: [&str; 29] = [
    // Non-canonical field encodings.
    "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // Negative field elements.
    "0100000000000000000000000000000000000000000000000000000000000000",
    "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
    "c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
    "c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
    "47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
    "f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
    "87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
    // Non-square x^2.
    "26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
    "4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
    "de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
    "bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
    "2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
    "f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
    "8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
    "2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
    // Negative xy value.
    "3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
    "a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
    "d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
    "8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
    "32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
    "227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
    "5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
    "445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
    // s = -1, which makes y = 0.
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/// RFC 9496 Appendix A.3: `from_uniform_bytes(SHA-512(message))`.
const DERIVED: [(&str, &str); 7] = [
    (
        "Ristretto is traditionally a short shot of espresso coffee",
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46",
    ),
    (
        "made with the normal amount of ground coffee but extracted with",
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b",
    ),
    (
        "about half the amount of water in the same amount of time",
        "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826",
    ),
    (
        "by using a finer grind.",
        "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a",
    ),
    (
        "This produces a concentrated shot of coffee per volume.",
        "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179",
    ),
    (
        "Just pulling a normal shot short will produce a weaker shot",
        "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628",
    ),
    (
        "and is not a Ristretto as some believe.",
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065",
    ),
];

#[test]
fn rfc9496_vectors() {
    let Some(t) = ifma("rfc9496_vectors") else {
        return;
    };
    // A.1: decode/encode round trip, and i * B by the scalar multiplication.
    let multiples: Vec<[u8; 32]> = MULTIPLES.iter().map(|h| hex32(h)).collect();
    let mut b = RistrettoPoint::default();
    for m in &multiples {
        assert_eq!(
            b.compress().to_bytes(),
            *m,
            "dalek disagrees with the vector"
        );
        b += RISTRETTO_BASEPOINT_POINT;
    }
    for group in multiples.chunks(8) {
        let enc: [[u8; 32]; 8] = core::array::from_fn(|j| group[j]);
        let (re, valid) = t.decode_encode(&enc);
        assert_eq!(valid, 0xff);
        assert_eq!(re, enc);
    }
    for (i, m) in multiples.iter().enumerate() {
        let digits = Digits::new(&Scalar::from(i as u64).to_bytes());
        let (got, valid) = t.decode_mul_encode(&[multiples[1]; 8], &digits);
        assert_eq!(valid, 0xff);
        assert_eq!(got, [*m; 8], "{i} B");
    }
    // A.2: every bad encoding is refused (by dalek too).
    for group in BAD.chunks(8) {
        let mut enc = [multiples[1]; 8];
        for (e, h) in enc.iter_mut().zip(group) {
            *e = hex32(h);
            assert!(CompressedRistretto(*e).decompress().is_none());
        }
        let (_, valid) = t.decode_encode(&enc);
        assert_eq!(valid, (0xff_u16 << group.len()) as u8, "{group:?}");
    }
    // A.3: the one-way map.
    let mut uniform = [[0_u8; 64]; 8];
    for (u, (msg, _)) in uniform.iter_mut().zip(&DERIVED) {
        u.copy_from_slice(&Sha512::digest(msg.as_bytes()));
    }
    let got = t.hash_encode(&uniform);
    for (g, (_, out)) in got.iter().zip(&DERIVED) {
        assert_eq!(*g, hex32(out));
    }
}
