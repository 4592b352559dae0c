//! Batched ristretto255 operations on the engine pool.
//!
//! Compression dominates unless batched: `double_and_compress_batch` encodes `2P` for a
//! whole batch with one inversion, so each function multiplies by `s / 2` and lets the batch
//! doubling restore `s`. Scalar multiplications by secret scalars are constant time
//! (dalek's variable-base `Mul`); only public data goes through `vartime` functions.
//!
//! On CPUs with AVX-512 IFMA, `hash_mul_compress` and `decode_mul_compress` run eight items
//! at a time through the multi-buffer code of `mb` (same output bytes, same errors);
//! `ZONE_OPT_JOIN_SIMD=0` forces dalek's path.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rayon::prelude::*;
use zeroize::Zeroize;

#[cfg(target_arch = "x86_64")]
use super::hash::expand_message_xmd_64;
use super::hash::{hash_to_group_dst, DST_H2G};
#[cfg(target_arch = "x86_64")]
use super::mb;
use crate::error::{CoreError, CoreResult};

/// Items per rayon task: large enough that the batch inversion is amortised.
pub const BATCH: usize = 2048;

/// A secret scalar, wiped when dropped.
pub struct SecretScalar(pub Scalar);

impl SecretScalar {
    /// A uniformly random non-zero scalar from the operating system's generator.
    pub fn random() -> CoreResult<Self> {
        loop {
            let mut wide = [0_u8; 64];
            getrandom::fill(&mut wide)
                .map_err(|e| CoreError::Internal(format!("no OS randomness: {e}")))?;
            let s = Scalar::from_bytes_mod_order_wide(&wide);
            wide.zeroize();
            if s != Scalar::ZERO {
                return Ok(Self(s));
            }
        }
    }
}

impl Drop for SecretScalar {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `compress(s * P)` for every point, with `s_half = s / 2` precomputed by the caller.
fn mul_compress_half(points: &[RistrettoPoint], s_half: &Scalar) -> Vec<CompressedRistretto> {
    let scaled: Vec<RistrettoPoint> = points.iter().map(|p| p * s_half).collect();
    RistrettoPoint::double_and_compress_batch(&scaled)
}

/// `compress(s * H1(key))` for every key, in parallel batches (H1 under zone-opt's DST).
pub fn hash_mul_compress(keys: &[Vec<u8>], s: &Scalar) -> CoreResult<Vec<CompressedRistretto>> {
    hash_mul_compress_dst(keys, s, DST_H2G)
}

/// `compress(s * hash_to_ristretto255(key, dst))` for every key, in parallel batches.
pub fn hash_mul_compress_dst(
    keys: &[Vec<u8>],
    s: &Scalar,
    dst: &[u8],
) -> CoreResult<Vec<CompressedRistretto>> {
    #[cfg(target_arch = "x86_64")]
    if let Some(ifma) = mb::Ifma::get() {
        let digits = mb::Digits::from_scalar(s);
        return keys
            .par_chunks(BATCH)
            .map(|chunk| {
                let uniform = chunk
                    .iter()
                    .map(|k| expand_message_xmd_64(&[k], dst))
                    .collect::<CoreResult<Vec<_>>>()?;
                Ok(mb_hash_mul_compress(ifma, &uniform, &digits))
            })
            .collect::<CoreResult<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
    }
    let mut half = s.div_by_2();
    let out = keys
        .par_chunks(BATCH)
        .map(|chunk| {
            let points = chunk
                .iter()
                .map(|k| hash_to_group_dst(k, dst))
                .collect::<CoreResult<Vec<_>>>()?;
            Ok(mul_compress_half(&points, &half))
        })
        .collect::<CoreResult<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect());
    half.zeroize();
    out
}

/// `compress(s * P)` for every point, in parallel batches.
pub fn mul_compress(points: &[RistrettoPoint], s: &Scalar) -> Vec<CompressedRistretto> {
    let mut half = s.div_by_2();
    let out = points
        .par_chunks(BATCH)
        .map(|chunk| mul_compress_half(chunk, &half))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    half.zeroize();
    out
}

/// Decode one received point: canonical encoding, on the group, not the identity.
pub fn decode_point(bytes: &[u8], field: &str, row: usize) -> CoreResult<RistrettoPoint> {
    let compressed = CompressedRistretto::from_slice(bytes)
        .map_err(|_| CoreError::invalid(field, Some(row), "a point must be 32 bytes"))?;
    // Canonical encodings are unique and the identity's is all zeros, so comparing the
    // bytes is exact (and cheaper than comparing the decoded point).
    if compressed == CompressedRistretto::identity() {
        return Err(CoreError::invalid(
            field,
            Some(row),
            "the identity point is refused",
        ));
    }
    compressed.decompress().ok_or_else(|| {
        CoreError::invalid(field, Some(row), "not a canonical ristretto255 encoding")
    })
}

/// Decode every 32-byte point of `data` (validated, identity refused), in parallel.
pub fn decode_points(data: &[u8], field: &str) -> CoreResult<Vec<RistrettoPoint>> {
    if !data.len().is_multiple_of(32) {
        return Err(CoreError::invalid(
            field,
            None,
            "length is not a multiple of 32",
        ));
    }
    data.par_chunks(32)
        .with_min_len(BATCH)
        .enumerate()
        .map(|(i, b)| decode_point(b, field, i))
        .collect()
}

/// Decode, multiply by `s` and re-compress every point of `data` (32 bytes each).
pub fn decode_mul_compress(
    data: &[u8],
    s: &Scalar,
    field: &str,
) -> CoreResult<Vec<CompressedRistretto>> {
    if !data.len().is_multiple_of(32) {
        return Err(CoreError::invalid(
            field,
            None,
            "length is not a multiple of 32",
        ));
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(ifma) = mb::Ifma::get() {
        let digits = mb::Digits::from_scalar(s);
        return data
            .par_chunks(32 * BATCH)
            .enumerate()
            .map(|(c, chunk)| mb_decode_mul_compress(ifma, chunk, c * BATCH, &digits, field))
            .collect::<CoreResult<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
    }
    let mut half = s.div_by_2();
    let out = data
        .par_chunks(32 * BATCH)
        .enumerate()
        .map(|(c, chunk)| {
            let points = chunk
                .chunks(32)
                .enumerate()
                .map(|(i, b)| decode_point(b, field, c * BATCH + i))
                .collect::<CoreResult<Vec<_>>>()?;
            Ok(mul_compress_half(&points, &half))
        })
        .collect::<CoreResult<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect());
    half.zeroize();
    out
}

/// `compress(s * from_uniform_bytes(u))` for every `u`, eight at a time (the last group
/// padded with zeros, whose outputs are dropped).
#[cfg(target_arch = "x86_64")]
fn mb_hash_mul_compress(
    ifma: mb::Ifma,
    uniform: &[[u8; 64]],
    s: &mb::Digits,
) -> Vec<CompressedRistretto> {
    let mut out = Vec::with_capacity(uniform.len());
    for group in uniform.chunks(8) {
        let mut lanes = [[0_u8; 64]; 8];
        lanes[..group.len()].copy_from_slice(group);
        let enc = ifma.hash_mul_encode(&lanes, s);
        out.extend(
            enc.iter()
                .take(group.len())
                .map(|e| CompressedRistretto(*e)),
        );
    }
    out
}

/// `decode_mul_compress` of one chunk (its first row is `first_row`), eight points at a time.
/// A group with a refused point is re-checked with `decode_point`, row by row, so the error
/// (message and row) is exactly the one dalek's path gives.
#[cfg(target_arch = "x86_64")]
fn mb_decode_mul_compress(
    ifma: mb::Ifma,
    chunk: &[u8],
    first_row: usize,
    s: &mb::Digits,
    field: &str,
) -> CoreResult<Vec<CompressedRistretto>> {
    let mut out = Vec::with_capacity(chunk.len() / 32);
    for (g, group) in chunk.chunks(32 * 8).enumerate() {
        let n = group.len() / 32;
        let mut lanes = [[0_u8; 32]; 8];
        let mut nonzero = 0_u8;
        for (j, (lane, b)) in lanes.iter_mut().zip(group.chunks_exact(32)).enumerate() {
            lane.copy_from_slice(b);
            if *lane != [0_u8; 32] {
                nonzero |= 1 << j;
            }
        }
        let (enc, valid) = ifma.decode_mul_encode(&lanes, s);
        let used = ((1_u16 << n) - 1) as u8;
        if valid & nonzero & used != used {
            for (i, b) in group.chunks(32).enumerate() {
                decode_point(b, field, first_row + 8 * g + i)?;
            }
            return Err(CoreError::Internal(
                "multi-buffer ristretto255 decoding disagrees with dalek".into(),
            ));
        }
        out.extend(enc.iter().take(n).map(|e| CompressedRistretto(*e)));
    }
    Ok(out)
}

/// Uniform random permutation of `0..n` (Fisher-Yates with OS randomness).
pub fn random_permutation(n: usize) -> CoreResult<Vec<usize>> {
    let mut perm: Vec<usize> = (0..n).collect();
    if n < 2 {
        return Ok(perm);
    }
    let mut words = vec![0_u8; 8 * n];
    getrandom::fill(&mut words)
        .map_err(|e| CoreError::Internal(format!("no OS randomness: {e}")))?;
    for i in (1..n).rev() {
        let mut w = [0_u8; 8];
        w.copy_from_slice(&words[8 * i..8 * i + 8]);
        // Multiply-shift: bias below n / 2^64, negligible.
        let j = ((u128::from(u64::from_le_bytes(w)) * (i as u128 + 1)) >> 64) as usize;
        perm.swap(i, j);
    }
    Ok(perm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::join::hash::hash_to_group;

    #[test]
    fn batched_ops_equal_plain_ops() {
        let keys: Vec<Vec<u8>> = (0..5000).map(|i| format!("K{i}").into_bytes()).collect();
        let s = SecretScalar::random().unwrap();
        let got = hash_mul_compress(&keys, &s.0).unwrap();
        for (k, c) in keys.iter().zip(&got).step_by(97) {
            assert_eq!(*c, (hash_to_group(k).unwrap() * s.0).compress());
        }
        let bytes: Vec<u8> = got.iter().flat_map(|c| c.to_bytes()).collect();
        let t = SecretScalar::random().unwrap();
        let twice = decode_mul_compress(&bytes, &t.0, "points").unwrap();
        for (k, c) in keys.iter().zip(&twice).step_by(101) {
            assert_eq!(*c, (hash_to_group(k).unwrap() * (s.0 * t.0)).compress());
        }
    }

    #[test]
    fn bad_points_are_refused() {
        let identity = RistrettoPoint::identity().compress().to_bytes();
        // The byte check stands for the point check: zeros are the identity's one encoding.
        assert_eq!(identity, [0_u8; 32]);
        assert_eq!(
            CompressedRistretto(identity).decompress(),
            Some(RistrettoPoint::identity())
        );
        assert!(decode_point(&identity, "p", 0).is_err());
        // A non-canonical field element (p itself, little endian) is not a valid encoding.
        let mut bad = [0xff_u8; 32];
        bad[0] = 0xed;
        bad[31] = 0x7f;
        assert!(decode_point(&bad, "p", 0).is_err());
        assert!(decode_point(&[1_u8; 31], "p", 0).is_err());
        assert!(decode_points(&[0_u8; 33], "p").is_err());
    }

    /// The first bad point of a request is reported with the same message and row on both
    /// paths (the multi-buffer one re-checks a refused group with `decode_point`).
    #[test]
    fn first_bad_point_is_reported_with_its_row() {
        let keys: Vec<Vec<u8>> = (0..3000).map(|i| format!("K{i}").into_bytes()).collect();
        let s = SecretScalar::random().unwrap();
        let good: Vec<u8> = hash_mul_compress(&keys, &s.0)
            .unwrap()
            .iter()
            .flat_map(|c| c.to_bytes())
            .collect();
        let mut p = [0xff_u8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut odd = good[..32].to_vec();
        odd[0] |= 1;
        let mut high = good[64..96].to_vec();
        high[31] |= 0x80;
        let cases: [(usize, &[u8]); 6] = [
            (0, &[0_u8; 32]),
            (7, &p),
            (9, &odd),
            (2049, &high),
            (2999, &[0_u8; 32]),
            (1234, &p),
        ];
        for (row, bad) in cases {
            let mut data = good.clone();
            data[32 * row..32 * row + 32].copy_from_slice(bad);
            // A second bad point later in the same group must not be the one reported.
            if row + 1 < 3000 {
                data[32 * (row + 1)..32 * (row + 2)].copy_from_slice(&[0_u8; 32]);
            }
            let err = decode_mul_compress(&data, &s.0, "request").unwrap_err();
            let expect = decode_point(bad, "request", row).unwrap_err();
            assert_eq!(err.to_string(), expect.to_string());
        }
        // Tails of every length 1..=9 give the same bytes as dalek's plain operations.
        for n in 1..=9 {
            let got = decode_mul_compress(&good[..32 * n], &s.0, "request").unwrap();
            for (k, c) in keys.iter().zip(&got) {
                let p = hash_to_group(k).unwrap() * s.0;
                assert_eq!(*c, (p * s.0).compress());
            }
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = random_permutation(1000).unwrap();
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
