//! The RR22 PSI protocol (Raghuraman, Rindal 2022, "Blazing Fast PSI from Improved OKVS and
//! Subfield VOLE"), semi-honest, over our silent VOLE and RB-OKVS.
//!
//! Messages (sender S holds Y, receiver R holds X; R learns X ∩ Y):
//! 1. `setup` S -> R: `|Y|` and S's base-OT receiver message (choices = bits of `delta`).
//! 2. `request` R -> S: `|X|`, R's base-OT sender point, the IKNP matrix `u`.
//! 3. `vole` S -> R: the GGM level sums and `d` values of the silent VOLE. Now R holds
//!    `(A, C)`, S holds `(delta, B)` with `C = B + A * delta`, `m = columns(|X|)` long.
//! 4. `correction` R -> S: an OKVS seed and `A' = P + A`, where `P` encodes
//!    `x -> H(x)` for every `x` in X.
//! 5. `response` S -> R: for each `y` in Y, the truncated hash of
//!    `Decode(B + delta * A', y) + delta * H(y)`, sorted (a random order). For `y` in X this
//!    equals `Decode(C, y)`, which R computes for its own keys and looks up.
//!
//! Tags are `sigma + log2|X| + log2|Y|` bits (sigma = 40, rounded up to bytes), so a false
//! match anywhere has probability at most 2^-40.

use rayon::prelude::*;
use std::hash::BuildHasherDefault;

use super::aeshash::{hash_key, tccr, tccr_many_same, Prg};
use super::ot::random_u128;
use crate::error::{CoreError, CoreResult};
use crate::join::hash::{canonical_key, KeyKind};
use crate::join::protocol::StrColumn;

pub const MAGIC: &[u8; 4] = b"ZPSV";
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 40;
/// Statistical security parameter (bits).
pub const SIGMA: u32 = 40;
const FLAG_USCC: u8 = 2;
/// Flag bit of a message that belongs to one bucket of a streaming session: a part header
/// ([`Part`], [`PART_LEN`] bytes) follows the 40-byte header.
pub const FLAG_PART: u8 = 8;
/// Bytes of a part header: the sender's stream id, the bucket, the bucket count.
pub const PART_LEN: usize = 24;
const MODE_INTERSECTION: u8 = 1;
const TAG_TWEAK: u128 = 0x7a6f_6e65_2d6f_7074_2d76_6f6c_652d_7461; // "zone-opt-vole-ta"
const MAX_OKVS_ATTEMPTS: usize = 16;

/// Messages of the protocol, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Setup = 1,
    Request = 2,
    Vole = 3,
    Correction = 4,
    Response = 5,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Setup => "setup",
            Kind::Request => "request",
            Kind::Vole => "vole",
            Kind::Correction => "correction",
            Kind::Response => "response",
        }
    }

    fn from_u8(v: u8) -> Option<Kind> {
        match v {
            1 => Some(Kind::Setup),
            2 => Some(Kind::Request),
            3 => Some(Kind::Vole),
            4 => Some(Kind::Correction),
            5 => Some(Kind::Response),
            _ => None,
        }
    }
}

/// The kind of a message (for dispatch), after checking magic and version.
pub fn message_kind(data: &[u8]) -> CoreResult<Kind> {
    if data.len() < HEADER_LEN || &data[..4] != MAGIC {
        return Err(CoreError::invalid(
            "message",
            None,
            "not a zone-opt VOLE-PSI message",
        ));
    }
    if data[4] != VERSION {
        return Err(CoreError::invalid(
            "message",
            None,
            format!(
                "VOLE-PSI wire version {} is not supported (this is {VERSION})",
                data[4]
            ),
        ));
    }
    Kind::from_u8(data[5]).ok_or_else(|| CoreError::invalid("message", None, "unknown kind"))
}

/// One bucket of a streaming session (`join::vole::stream`): every message of the bucket's
/// session carries it after the header, so parts of other buckets or streams are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The sender's stream id (random per streaming session).
    pub stream: [u8; 16],
    pub bucket: u32,
    pub buckets: u32,
}

impl Part {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stream);
        out.extend_from_slice(&self.bucket.to_le_bytes());
        out.extend_from_slice(&self.buckets.to_le_bytes());
    }

    fn parse(b: &[u8]) -> Part {
        let mut stream = [0_u8; 16];
        stream.copy_from_slice(&b[..16]);
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Part {
            stream,
            bucket: word(16),
            buckets: word(20),
        }
    }

    /// The part header of a message (magic and version checked); an error when the
    /// message is not a streaming part.
    pub fn of(data: &[u8]) -> CoreResult<Part> {
        message_kind(data)?;
        if data[7] & FLAG_PART == 0 || data.len() < HEADER_LEN + PART_LEN {
            return Err(CoreError::invalid(
                "message",
                None,
                "not a part of a streaming VOLE session",
            ));
        }
        Ok(Part::parse(&data[HEADER_LEN..HEADER_LEN + PART_LEN]))
    }

    /// Extra tag bits so that a false match anywhere in the stream stays below 2^-sigma.
    fn tag_bits(part: Option<&Part>) -> u32 {
        part.map_or(0, |p| p.buckets.max(1).next_power_of_two().trailing_zeros())
    }
}

fn header(
    out: &mut Vec<u8>,
    kind: Kind,
    flags: u8,
    (s, r): (&[u8; 16], &[u8; 16]),
    part: Option<&Part>,
) {
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.push(MODE_INTERSECTION);
    out.push(if part.is_some() {
        flags | FLAG_PART
    } else {
        flags
    });
    out.extend_from_slice(s);
    out.extend_from_slice(r);
    if let Some(p) = part {
        p.write(out);
    }
}

/// What a received message must carry: its kind, this party's flags, the session ids
/// already known, and the part (streaming) or none (a whole session).
struct Expect<'e> {
    kind: Kind,
    flags: u8,
    sender: Option<&'e [u8; 16]>,
    receiver: Option<&'e [u8; 16]>,
    part: Option<&'e Part>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Check the header: kind, mode, flags, the session ids we already know and the part.
    fn open(data: &'a [u8], e: Expect<'_>) -> CoreResult<(Reader<'a>, [u8; 16], [u8; 16])> {
        let what = e.kind.name();
        let got = message_kind(data)?;
        if got != e.kind {
            return Err(CoreError::invalid(
                what,
                None,
                format!("a {} message arrived, a {what} was expected", got.name()),
            ));
        }
        if data[6] != MODE_INTERSECTION {
            return Err(CoreError::invalid(what, None, "unknown mode"));
        }
        let part_flag = if e.part.is_some() { FLAG_PART } else { 0 };
        if data[7] & FLAG_PART != part_flag {
            return Err(CoreError::invalid(
                what,
                None,
                if part_flag == 0 {
                    "a part of a streaming session arrived in a whole session"
                } else {
                    "a whole session's message arrived in a streaming session"
                },
            ));
        }
        if data[7] != e.flags | part_flag {
            return Err(CoreError::invalid(
                what,
                None,
                "key-kind options differ between the parties",
            ));
        }
        let mut s = [0_u8; 16];
        s.copy_from_slice(&data[8..24]);
        let mut r = [0_u8; 16];
        r.copy_from_slice(&data[24..40]);
        if e.sender.is_some_and(|x| *x != s) || e.receiver.is_some_and(|x| *x != r) {
            return Err(CoreError::invalid(
                what,
                None,
                "the message belongs to another session",
            ));
        }
        let mut reader = Reader {
            data,
            pos: HEADER_LEN,
            what,
        };
        if let Some(want) = e.part {
            let got = Part::parse(reader.bytes(PART_LEN, "part header")?);
            if got != *want {
                return Err(CoreError::invalid(
                    what,
                    None,
                    format!(
                        "the message belongs to bucket {} of {} of another stream or bucket \
                         (this is bucket {} of {})",
                        got.bucket, got.buckets, want.bucket, want.buckets
                    ),
                ));
            }
        }
        Ok((reader, s, r))
    }

    fn bytes(&mut self, n: usize, field: &str) -> CoreResult<&'a [u8]> {
        match self.pos.checked_add(n).filter(|&e| e <= self.data.len()) {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(CoreError::invalid(
                self.what,
                None,
                format!(
                    "truncated: {field} needs {n} bytes, {} left",
                    self.data.len() - self.pos
                ),
            )),
        }
    }

    fn u64(&mut self, field: &str) -> CoreResult<u64> {
        let mut w = [0_u8; 8];
        w.copy_from_slice(self.bytes(8, field)?);
        Ok(u64::from_le_bytes(w))
    }

    fn u128s(&mut self, n: usize, field: &str) -> CoreResult<Vec<u128>> {
        let len = n
            .checked_mul(16)
            .ok_or_else(|| CoreError::invalid(self.what, None, "length overflows"))?;
        let b = self.bytes(len, field)?;
        Ok(b.chunks_exact(16)
            .map(|c| {
                let mut w = [0_u8; 16];
                w.copy_from_slice(c);
                u128::from_le_bytes(w)
            })
            .collect())
    }

    fn finish(self) -> CoreResult<()> {
        if self.pos != self.data.len() {
            return Err(CoreError::invalid(
                self.what,
                None,
                format!("{} unexpected trailing bytes", self.data.len() - self.pos),
            ));
        }
        Ok(())
    }
}

/// Hasher for values that are already uniformly random (key hashes, tags).
#[derive(Default)]
struct RandomBits(u64);

impl std::hash::Hasher for RandomBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, x: u128) {
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

type Fast = BuildHasherDefault<RandomBits>;

pub(crate) fn flags(kind: KeyKind) -> u8 {
    if kind == KeyKind::Uscc {
        FLAG_USCC
    } else {
        0
    }
}

/// Canonicalise and hash every row's key (parallel; errors name the first bad row,
/// counted from `first_row`).
pub(crate) fn hashed_keys(
    col: StrColumn<'_>,
    kind: KeyKind,
    first_row: usize,
) -> CoreResult<Vec<u128>> {
    col.check("keys")?;
    (0..col.len())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| canonical_key(col.get(i), kind, "keys", first_row + i).map(|k| hash_key(&k)))
        .collect()
}

/// Upper bound on a set size in this in-memory protocol (2^26 keys per side). The
/// receiver's announced size alone sizes the sender's VOLE (up to `4 * 1.12 * n` 16-byte
/// values), so it is bounded here; larger sets stream (`join::vole::stream`, a session per
/// bucket).
pub const MAX_SET: u64 = 1 << 26;

fn ceil_log2(n: usize) -> u32 {
    n.max(2).next_power_of_two().trailing_zeros()
}

/// Bytes of a tag for these set sizes: `sigma + log2 n_r + log2 n_s` bits, at most 16.
pub fn tag_len(n_r: usize, n_s: usize) -> usize {
    tag_len_bits(n_r, n_s, 0)
}

/// [`tag_len`] with `extra` more bits (a stream's `log2 buckets`: one comparison per bucket).
fn tag_len_bits(n_r: usize, n_s: usize, extra: u32) -> usize {
    (((SIGMA + extra + ceil_log2(n_r) + ceil_log2(n_s)) as usize).div_ceil(8)).min(16)
}

/// Append random values to `keys` until it holds `to` (a streaming bucket's dummy keys:
/// uniform 128-bit values, which match a real key hash with probability 2^-128 each).
fn pad(keys: &mut Vec<u128>, to: usize) -> CoreResult<()> {
    let start = keys.len();
    if start >= to {
        return Ok(());
    }
    keys.resize(to, 0);
    Prg::new(random_u128()?).fill(0, &mut keys[start..]);
    Ok(())
}

/// A bucket's distinct keys must fit its padded size (see `stream::bucket_bound`).
fn check_fits(distinct: usize, pad_to: usize, part: &Part) -> CoreResult<()> {
    if distinct > pad_to {
        return Err(CoreError::invalid(
            "buckets",
            None,
            format!(
                "bucket {} of {} holds {distinct} distinct keys, more than its padded size \
                 {pad_to} (a chance below 2^-40 for any set); choose another bucket count",
                part.bucket, part.buckets
            ),
        ));
    }
    Ok(())
}

/// Truncated tags of VOLE outputs, in place (batched fixed-key AES).
fn tags_in_place(v: &mut [u128], len: usize) {
    let mask = if len >= 16 {
        u128::MAX
    } else {
        (1_u128 << (8 * len)) - 1
    };
    v.par_chunks_mut(4096).for_each(|ch| {
        tccr_many_same(ch, TAG_TWEAK);
        for t in ch.iter_mut() {
            *t &= mask;
        }
    });
}

fn ot_context(sender: &[u8; 16]) -> [u8; 32] {
    let mut c = [0_u8; 32];
    c[..16].copy_from_slice(sender);
    c[16..].copy_from_slice(b"zone-opt-vole-ot");
    c
}

fn code_seed(sender: &[u8; 16], receiver: &[u8; 16]) -> u128 {
    tccr(u128::from_le_bytes(*sender), u128::from_le_bytes(*receiver))
}

fn session_id() -> CoreResult<[u8; 16]> {
    Ok(random_u128()?.to_le_bytes())
}

fn announced(n: u64, what: &str) -> CoreResult<usize> {
    if n > MAX_SET {
        return Err(CoreError::invalid(
            what,
            None,
            format!("{n} keys, more than the {MAX_SET} the vole protocol takes per side"),
        ));
    }
    Ok(n as usize)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    New,
    SetupSent,
    VoleSent,
    Done,
}

mod receiver;
mod sender;

pub use receiver::Receiver;
pub use sender::Sender;

#[cfg(test)]
mod tests;
