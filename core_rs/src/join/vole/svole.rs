//! Silent VOLE over GF(2^128) (Boyle, Couteau, Gilboa, Ishai 2018-19; regular noise as in
//! Wolverine / Ferret), from correlated OTs:
//!
//! 1. `t` single-point VOLEs, one per block of `2^h` positions. The sender (who holds
//!    `delta`) expands a GGM tree per block; the receiver learns every leaf but the one at
//!    its secret position `alpha` through `h` random OTs (choice bits: the complement of
//!    `alpha`'s bits), each carrying the XOR of the left or right nodes of one level. The
//!    noise value `beta` is a random field element whose 128 bits are the choice bits of
//!    128 more correlated OTs: `c = b + beta * delta` by the gadget `sum_i x^i * (.)`. The
//!    sender sends `d = sum(leaves) + b`; the receiver sets its leaf at `alpha` to
//!    `d + c + sum(other leaves) = v_alpha + beta * delta`.
//!    Result, over `N = t * 2^h` positions: the sender holds `v`, the receiver holds a
//!    regular `t`-sparse `e` and `w = v + e * delta`.
//! 2. Compression to `m` outputs with an expand-accumulate code (Boyle et al. 2022): first
//!    accumulate (prefix sums over all `N` positions), then each output is the sum of
//!    [`EXPAND_WEIGHT`] pseudo-random positions. The map is GF(2)-linear, so the relation
//!    survives: `C = B + A * delta` with `A = code(e)` pseudo-random under dual LPN for
//!    this code with regular noise (`N >= 2m`, `t >=` [`NOISE_WEIGHT`]).
//!
//! The receiver of the VOLE is the PSI receiver (it holds `A`, `C`); the sender holds
//! `delta`, `B`.

use rayon::prelude::*;

use super::aeshash::{ggm_expand, tccr, Prg};
use super::field::{gadget, mul};
use crate::error::{CoreError, CoreResult};

/// Minimum number of noise positions (blocks). With an expand-accumulate code whose dual
/// has minimum relative distance `d`, a linear test has bias at most `(1 - 2d)^t`; `t = 400`
/// gives 2^-128 for `d >= 0.1` (a conservative assumption for rate-1/2 EA codes).
pub const NOISE_WEIGHT: usize = 400;
/// Positions summed into each output after accumulation.
pub const EXPAND_WEIGHT: usize = 11;
/// Upper bound on the VOLE length a peer may ask for (2^31 outputs, 32 GiB).
pub const MAX_OUTPUTS: usize = 1 << 31;

/// Sizes of one silent VOLE, derived from the output length alone (both parties compute
/// them the same way, so a peer cannot choose them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Outputs.
    pub m: usize,
    /// Blocks (noise weight).
    pub t: usize,
    /// Depth of each GGM tree (block size `2^h`).
    pub h: usize,
}

impl Params {
    pub fn new(m: usize) -> CoreResult<Self> {
        if m == 0 || m > MAX_OUTPUTS {
            return Err(CoreError::invalid(
                "vole length",
                None,
                format!("{m} outside 1..={MAX_OUTPUTS}"),
            ));
        }
        // Exactly NOISE_WEIGHT blocks (fewer for tiny m), each a power of two, N >= 2m.
        let t = NOISE_WEIGHT.min(m);
        let per_block = (2 * m).div_ceil(t).max(2);
        let h = per_block.next_power_of_two().trailing_zeros() as usize;
        Ok(Self { m, t, h })
    }

    /// Positions before compression.
    pub fn n(&self) -> usize {
        self.t << self.h
    }

    /// Correlated OTs used (GGM levels, then 128 per noise value), rounded up to 128.
    pub fn cots(&self) -> usize {
        (self.t * (self.h + 128)).div_ceil(128) * 128
    }

    fn level_ot(&self, block: usize, level: usize) -> usize {
        block * self.h + level
    }

    fn beta_ots(&self, block: usize) -> std::ops::Range<usize> {
        let s = self.t * self.h + 128 * block;
        s..s + 128
    }

    /// Bytes of the sender's message: two masked level sums per level and `d` per block.
    pub fn sender_msg_len(&self) -> usize {
        self.t * (2 * self.h + 1) * 16
    }
}

/// The receiver's secret choices: `alpha` per block and the packed choice bits of all COTs.
pub struct ReceiverChoices {
    pub alphas: Vec<usize>,
    pub bits: Vec<u128>,
}

/// Random noise positions, and the COT choice bits that encode them and `beta`.
pub fn receiver_choices(p: &Params) -> CoreResult<ReceiverChoices> {
    let words = p.cots() / 128;
    let mut bits = Vec::with_capacity(words);
    for _ in 0..words {
        bits.push(super::ot::random_u128()?);
    }
    let mut alphas = Vec::with_capacity(p.t);
    for b in 0..p.t {
        let mut alpha = 0;
        for l in 0..p.h {
            let j = p.level_ot(b, l);
            // choice = NOT alpha bit at level l (most significant first)
            let choice = (bits[j / 128] >> (j % 128)) & 1;
            alpha = (alpha << 1) | (1 - choice as usize);
        }
        alphas.push(alpha);
    }
    Ok(ReceiverChoices { alphas, bits })
}

fn bit(bits: &[u128], j: usize) -> u128 {
    (bits[j / 128] >> (j % 128)) & 1
}

/// Expand one GGM tree from `seed`: the leaves and the XOR of left / right nodes per level.
fn tree(seed: u128, h: usize) -> (Vec<u128>, Vec<[u128; 2]>) {
    let mut level = vec![seed];
    let mut sums = Vec::with_capacity(h);
    for _ in 0..h {
        let mut next = vec![0_u128; level.len() * 2];
        ggm_expand(&level, &mut next);
        let mut s = [0_u128; 2];
        for (i, v) in next.iter().enumerate() {
            s[i & 1] ^= v;
        }
        sums.push(s);
        level = next;
    }
    (level, sums)
}

/// The sender's half: from its COTs `q` and `delta`, the message for the receiver and the
/// compressed `B` (length `p.m`).
pub fn send(
    p: &Params,
    q: &[u128],
    delta: u128,
    code_seed: u128,
) -> CoreResult<(Vec<u8>, Vec<u128>)> {
    if q.len() < p.cots() {
        return Err(CoreError::Internal("too few correlated OTs".into()));
    }
    let seeds: Vec<u128> = (0..p.t)
        .map(|_| super::ot::random_u128())
        .collect::<CoreResult<_>>()?;
    let mut leaves = vec![0_u128; p.n()];
    let msgs: Vec<Vec<u8>> = leaves
        .par_chunks_mut(1 << p.h)
        .enumerate()
        .map(|(b, out)| {
            let (lv, sums) = tree(seeds[b], p.h);
            let mut msg = Vec::with_capacity((2 * p.h + 1) * 16);
            for (l, s) in sums.iter().enumerate() {
                let j = p.level_ot(b, l);
                let tw = j as u128;
                msg.extend_from_slice(&(s[0] ^ tccr(q[j], tw)).to_le_bytes());
                msg.extend_from_slice(&(s[1] ^ tccr(q[j] ^ delta, tw)).to_le_bytes());
            }
            let base = gadget(&q[p.beta_ots(b)]);
            let total = lv.iter().fold(0, |a, v| a ^ v);
            msg.extend_from_slice(&(total ^ base).to_le_bytes());
            out.copy_from_slice(&lv);
            msg
        })
        .collect();
    let b = compress(leaves, p, code_seed);
    Ok((msgs.concat(), b))
}

fn u128_at(msg: &[u8], i: usize) -> u128 {
    let mut w = [0_u8; 16];
    w.copy_from_slice(&msg[16 * i..16 * i + 16]);
    u128::from_le_bytes(w)
}

/// The receiver's half: from its COTs `t`, choices and the sender's message, `(A, C)`
/// (length `p.m` each) with `C = B + A * delta`.
pub fn receive(
    p: &Params,
    t: &[u128],
    choices: &ReceiverChoices,
    msg: &[u8],
    code_seed: u128,
) -> CoreResult<(Vec<u128>, Vec<u128>)> {
    if msg.len() != p.sender_msg_len() {
        return Err(CoreError::invalid(
            "vole message",
            None,
            format!("{} bytes, expected {}", msg.len(), p.sender_msg_len()),
        ));
    }
    if t.len() < p.cots() {
        return Err(CoreError::Internal("too few correlated OTs".into()));
    }
    let per = 2 * p.h + 1;
    let mut w = vec![0_u128; p.n()];
    let betas: Vec<u128> = w
        .par_chunks_mut(1 << p.h)
        .enumerate()
        .map(|(b, out)| {
            let m = &msg[b * per * 16..(b + 1) * per * 16];
            let alpha = choices.alphas[b];
            // Level by level: `level` holds every node but the one on alpha's path (0).
            let mut level = vec![0_u128; 2];
            let mut path = 0_usize;
            for l in 0..p.h {
                let j = p.level_ot(b, l);
                let x = bit(&choices.bits, j);
                let key = tccr(t[j], j as u128);
                let sum = u128_at(m, 2 * l + x as usize) ^ key; // XOR of side `x` nodes
                if l > 0 {
                    let mut next = vec![0_u128; level.len() * 2];
                    ggm_expand(&level, &mut next);
                    level = next;
                }
                let a_bit = (alpha >> (p.h - 1 - l)) & 1;
                let on_path = 2 * path + a_bit;
                let sibling = 2 * path + (1 - a_bit);
                level[on_path] = 0;
                level[sibling] = 0;
                let known = level
                    .iter()
                    .skip(x as usize)
                    .step_by(2)
                    .fold(0, |acc, v| acc ^ v);
                level[sibling] = sum ^ known;
                path = on_path;
            }
            let c = gadget(&t[p.beta_ots(b)]);
            let beta = p
                .beta_ots(b)
                .enumerate()
                .fold(0_u128, |acc, (i, j)| acc | (bit(&choices.bits, j) << i));
            let d = u128_at(m, per - 1);
            let others = level.iter().fold(0, |acc, v| acc ^ v); // the path leaf is 0
            level[alpha] = d ^ c ^ others;
            out.copy_from_slice(&level);
            beta
        })
        .collect();
    Ok(compress_with_noise(
        w,
        &choices.alphas,
        &betas,
        p,
        code_seed,
    ))
}

/// Pseudo-random positions of output `i` of a chunk: [`EXPAND_WEIGHT`] per output.
struct Positions {
    words: Vec<u128>,
    n: u64,
}

const CHUNK: usize = 1 << 12;
const WORDS: usize = EXPAND_WEIGHT.div_ceil(4);

impl Positions {
    fn new(prg: &Prg, chunk: usize, len: usize, n: usize) -> Self {
        let mut words = vec![0_u128; len * WORDS];
        prg.fill((chunk * CHUNK * WORDS) as u128, &mut words);
        Self { words, n: n as u64 }
    }

    #[inline]
    fn get(&self, i: usize, k: usize) -> usize {
        let r = (self.words[i * WORDS + k / 4] >> (32 * (k % 4))) as u32;
        ((r as u64 * self.n) >> 32) as usize
    }
}

fn accumulate(v: &mut [u128]) {
    for i in 1..v.len() {
        v[i] ^= v[i - 1];
    }
}

/// The expand-accumulate map `F^N -> F^m`: prefix sums, then each output the sum of
/// [`EXPAND_WEIGHT`] pseudo-random positions drawn from `code_seed` (public).
pub fn compress(mut v: Vec<u128>, p: &Params, code_seed: u128) -> Vec<u128> {
    accumulate(&mut v);
    let prg = Prg::new(code_seed);
    let mut out = vec![0_u128; p.m];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
        let pos = Positions::new(&prg, c, o.len(), v.len());
        for (i, oi) in o.iter_mut().enumerate() {
            *oi = (0..EXPAND_WEIGHT).fold(0, |acc, k| acc ^ v[pos.get(i, k)]);
        }
    });
    out
}

/// `(compress(e), compress(w))` where `e` is the regular noise vector (`betas[b]` at
/// `b * 2^h + alphas[b]`, zero elsewhere). The prefix sums of `e` take one value per
/// segment between noise positions, so `e` is never materialised: a position's
/// accumulated value is `prefix[b + (offset >= alpha_b)]`, from a table in L1.
pub fn compress_with_noise(
    mut w: Vec<u128>,
    alphas: &[usize],
    betas: &[u128],
    p: &Params,
    code_seed: u128,
) -> (Vec<u128>, Vec<u128>) {
    accumulate(&mut w);
    let mut prefix = vec![0_u128; betas.len() + 1];
    for (b, beta) in betas.iter().enumerate() {
        prefix[b + 1] = prefix[b] ^ beta;
    }
    let prg = Prg::new(code_seed);
    let mut a = vec![0_u128; p.m];
    let mut c = vec![0_u128; p.m];
    let mask = (1_usize << p.h) - 1;
    a.par_chunks_mut(CHUNK)
        .zip(c.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(ch, (ao, co))| {
            let pos = Positions::new(&prg, ch, ao.len(), w.len());
            for i in 0..ao.len() {
                let (mut av, mut cv) = (0, 0);
                for k in 0..EXPAND_WEIGHT {
                    let x = pos.get(i, k);
                    cv ^= w[x];
                    let b = x >> p.h;
                    av ^= prefix[b + usize::from((x & mask) >= alphas[b])];
                }
                ao[i] = av;
                co[i] = cv;
            }
        });
    (a, c)
}

/// `C = B + A * delta` for every position (used by tests and debug checks).
pub fn holds(a: &[u128], b: &[u128], c: &[u128], delta: u128) -> bool {
    a.len() == b.len()
        && b.len() == c.len()
        && a.iter()
            .zip(b)
            .zip(c)
            .all(|((&ai, &bi), &ci)| ci == bi ^ mul(ai, delta))
}

#[cfg(test)]
mod tests {
    use super::super::ot::{base_send, iknp_receive, iknp_send, random_u128, BaseReceiver};
    use super::*;

    pub(crate) fn run(m: usize) -> (Vec<u128>, Vec<u128>, Vec<u128>, u128, ReceiverChoices) {
        let p = Params::new(m).unwrap();
        let delta = random_u128().unwrap();
        let (rx, msg) = BaseReceiver::new(delta, [3; 32]).unwrap();
        let (a_pt, pairs) = base_send(&msg, [3; 32]).unwrap();
        let chosen = rx.finish(&a_pt).unwrap();
        let ch = receiver_choices(&p).unwrap();
        let (u, t) = iknp_receive(&pairs, &ch.bits);
        let q = iknp_send(&chosen, delta, &u, ch.bits.len());
        let (smsg, b) = send(&p, &q, delta, 42).unwrap();
        let (a, c) = receive(&p, &t, &ch, &smsg, 42).unwrap();
        (a, b, c, delta, ch)
    }

    #[test]
    fn params_cover_twice_the_outputs() {
        for m in [1, 2, 100, 1000, 5000, 1 << 16, 1_200_000] {
            let p = Params::new(m).unwrap();
            assert!(p.n() >= 2 * m, "{p:?}");
            assert!(p.h >= 1);
            assert!(p.t >= NOISE_WEIGHT.min(m), "{p:?}");
            assert!(p.n() < 4 * m + 2 * NOISE_WEIGHT, "{p:?}");
        }
        assert!(Params::new(0).is_err());
        assert!(Params::new(MAX_OUTPUTS + 1).is_err());
    }

    #[test]
    fn vole_correlation_holds() {
        for m in [1, 7, 300, 5000, 40_000] {
            let (a, b, c, delta, _) = run(m);
            assert_eq!(a.len(), m);
            assert!(holds(&a, &b, &c, delta), "m = {m}");
            // A is not degenerate: no zeros, mostly distinct.
            if m >= 300 {
                let distinct: std::collections::HashSet<_> = a.iter().collect();
                assert!(distinct.len() > m * 99 / 100, "m = {m}");
            }
        }
    }

    /// GF(2)-rank of 128-bit vectors (Gaussian elimination on a basis).
    fn rank(vs: &[u128]) -> usize {
        let mut basis: Vec<u128> = Vec::new();
        for &v in vs {
            let mut x = v;
            for &b in &basis {
                x = x.min(x ^ b);
            }
            if x != 0 {
                basis.push(x);
                basis.sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        basis.len()
    }

    #[test]
    fn the_receivers_vector_spans_the_whole_field() {
        // With a binary code every output lies in the GF(2)-span of the t noise values; t
        // must reach 128 or A would sit in a subspace the sender could test for.
        let (a, _, _, _, _) = run(20_000);
        assert_eq!(rank(&a), 128);
        assert_eq!(rank(&[1, 2, 3]), 2);
    }

    #[test]
    fn noise_compression_equals_dense_compression() {
        let p = Params::new(5000).unwrap();
        let ch = receiver_choices(&p).unwrap();
        let betas: Vec<u128> = (0..p.t).map(|_| random_u128().unwrap()).collect();
        let w: Vec<u128> = (0..p.n()).map(|i| i as u128 * 77).collect();
        let mut e = vec![0_u128; p.n()];
        for b in 0..p.t {
            e[(b << p.h) + ch.alphas[b]] = betas[b];
        }
        let (a, c) = compress_with_noise(w.clone(), &ch.alphas, &betas, &p, 5);
        assert_eq!(a, compress(e, &p, 5));
        assert_eq!(c, compress(w, &p, 5));
    }

    #[test]
    fn corrupted_or_short_messages_are_caught() {
        let p = Params::new(3000).unwrap();
        let delta = random_u128().unwrap();
        let (rx, msg) = BaseReceiver::new(delta, [5; 32]).unwrap();
        let (a_pt, pairs) = base_send(&msg, [5; 32]).unwrap();
        let chosen = rx.finish(&a_pt).unwrap();
        let ch = receiver_choices(&p).unwrap();
        let (u, t) = iknp_receive(&pairs, &ch.bits);
        let q = iknp_send(&chosen, delta, &u, ch.bits.len());
        let (smsg, b) = send(&p, &q, delta, 9).unwrap();
        let (a, c) = receive(&p, &t, &ch, &smsg, 9).unwrap();
        assert!(holds(&a, &b, &c, delta));
        // Flip block 0's `d` (the receiver always reads it; of the two level sums it
        // reads only the one its choice bit selects).
        let mut bad = smsg.clone();
        bad[(2 * p.h) * 16] ^= 1;
        let (a2, c2) = receive(&p, &t, &ch, &bad, 9).unwrap();
        assert!(
            !holds(&a2, &b, &c2, delta),
            "a corrupted message must break the relation"
        );
        assert!(receive(&p, &t, &ch, &smsg[1..], 9).is_err());
    }
}
