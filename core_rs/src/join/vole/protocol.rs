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

use super::aeshash::{hash_key, tccr, tccr_many_same};
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

fn header(out: &mut Vec<u8>, kind: Kind, flags: u8, s: &[u8; 16], r: &[u8; 16]) {
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.push(MODE_INTERSECTION);
    out.push(flags);
    out.extend_from_slice(s);
    out.extend_from_slice(r);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Check the header: kind, mode, flags, and the session ids we already know.
    fn open(
        data: &'a [u8],
        kind: Kind,
        flags: u8,
        sender: Option<&[u8; 16]>,
        receiver: Option<&[u8; 16]>,
    ) -> CoreResult<(Reader<'a>, [u8; 16], [u8; 16])> {
        let what = kind.name();
        let got = message_kind(data)?;
        if got != kind {
            return Err(CoreError::invalid(
                what,
                None,
                format!("a {} message arrived, a {what} was expected", got.name()),
            ));
        }
        if data[6] != MODE_INTERSECTION {
            return Err(CoreError::invalid(what, None, "unknown mode"));
        }
        if data[7] != flags {
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
        if sender.is_some_and(|x| *x != s) || receiver.is_some_and(|x| *x != r) {
            return Err(CoreError::invalid(
                what,
                None,
                "the message belongs to another session",
            ));
        }
        Ok((
            Reader {
                data,
                pos: HEADER_LEN,
                what,
            },
            s,
            r,
        ))
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

fn flags(kind: KeyKind) -> u8 {
    if kind == KeyKind::Uscc {
        FLAG_USCC
    } else {
        0
    }
}

/// Canonicalise and hash every row's key (parallel; errors name the first bad row).
fn hashed_keys(col: StrColumn<'_>, kind: KeyKind) -> CoreResult<Vec<u128>> {
    col.check("keys")?;
    (0..col.len())
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| canonical_key(col.get(i), kind, "keys", i).map(|k| hash_key(&k)))
        .collect()
}

/// Upper bound on a set size in this in-memory protocol (2^26 keys per side). The
/// receiver's announced size alone sizes the sender's VOLE (up to `4 * 1.12 * n` 16-byte
/// values), so it is bounded here; larger sets use the streaming DH protocol.
pub const MAX_SET: u64 = 1 << 26;

fn ceil_log2(n: usize) -> u32 {
    n.max(2).next_power_of_two().trailing_zeros()
}

/// Bytes of a tag for these set sizes: `sigma + log2 n_r + log2 n_s` bits, at most 16.
pub fn tag_len(n_r: usize, n_s: usize) -> usize {
    (((SIGMA + ceil_log2(n_r) + ceil_log2(n_s)) as usize).div_ceil(8)).min(16)
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
