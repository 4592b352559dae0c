//! The two parties: [`Sender`] (the sender, who holds the set and optional payload) and
//! [`Receiver`] (the receiver, who learns what the mode allows).
//!
//! Hash suites ([`Suite`]): RFC 9497 `ristretto255-SHA512` (H1 is its `HashToGroup`, H2 its
//! `Finalize`, the proof its VOPRF proof, one per 2^16 evaluations) or zone-opt's older
//! suite. The setup's header names the suite; a receiver that was not told one follows it.
//!
//! Flow: `setup = server.setup_message()`, `request = client.request(..)`,
//! `response = server.respond(request)`, `client.finish(setup, response)`.
//!
//! The OPRF is 2HashDH: `F_k(x) = H2(x, H1(x)^k)`. The sender's setup carries a 12-byte tag
//! of `F_k(y)` for each distinct key `y`, sorted by tag (the tags are pseudo-random, so the
//! order is a uniformly random shuffle that reveals nothing of the table's order). The
//! receiver sends `H1(x)^c` for its distinct keys, the sender returns `(H1(x)^c)^k`, the
//! receiver unblinds with `1/c` and looks its tags up. Each session uses a fresh sender key
//! `k` and receiver blind `c`; both are wiped on drop.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use rayon::prelude::*;
use std::collections::HashMap;

use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::{ChaCha20Poly1305, Key};
use zeroize::Zeroize;

use super::dleq::{self, Transcript};
use super::group::BATCH;
use super::hash::{aead_key, canonical_key, oprf_output, KeyKind, Suite};
use super::rfc9497::{self, MAX_INPUT_LEN};
use super::wire::{Header, Mode, FLAG_RFC9497, FLAG_USCC, FLAG_VERIFIABLE};
use super::TAG_LEN;
use crate::error::{CoreError, CoreResult};

/// An Arrow-layout string column: `offsets` (n + 1 entries) into UTF-8 `data`.
#[derive(Clone, Copy)]
pub struct StrColumn<'a> {
    pub offsets: &'a [i64],
    pub data: &'a [u8],
}

impl StrColumn<'_> {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn check(&self, field: &str) -> CoreResult<()> {
        if self.offsets.is_empty() {
            return Err(CoreError::invalid(
                field,
                None,
                "offsets must hold n + 1 entries",
            ));
        }
        for i in 0..self.len() {
            let (a, b) = (self.offsets[i], self.offsets[i + 1]);
            if a < 0 || b < a || b as usize > self.data.len() {
                return Err(CoreError::invalid(
                    field,
                    Some(i),
                    "not a valid Arrow offset range",
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn get(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// One payload column, as strings (the Python layer casts and restores the Arrow types).
#[derive(Clone, Debug, Default)]
pub struct PayloadColumn {
    pub offsets: Vec<i64>,
    pub data: Vec<u8>,
    /// One flag per row; `None` means no nulls.
    pub valid: Option<Vec<bool>>,
}

/// The sender's payload: columns aligned with its keys, plus opaque schema bytes (names and
/// types) that travel in the setup and are authenticated as associated data.
#[derive(Clone, Debug, Default)]
pub struct Payload {
    pub columns: Vec<PayloadColumn>,
    pub schema: Vec<u8>,
}

/// Options both parties must agree on; the header carries them and a mismatch is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub verifiable: bool,
    pub key_kind: KeyKind,
    /// The hash suite ([`Suite::default_for`] gives the default).
    pub suite: Suite,
}

impl Options {
    pub(crate) fn flags(&self) -> u8 {
        let mut f = 0;
        if self.verifiable {
            f |= FLAG_VERIFIABLE;
        }
        if self.key_kind == KeyKind::Uscc {
            f |= FLAG_USCC;
        }
        if self.suite == Suite::Rfc9497 {
            f |= FLAG_RFC9497;
        }
        f
    }

    fn validate(&self) -> CoreResult<()> {
        if self.verifiable && matches!(self.mode, Mode::Cardinality | Mode::Sum) {
            return Err(CoreError::invalid(
                "verifiable",
                None,
                "verifiable evaluation is available in intersection and labelled modes (cardinality and sum shuffle the evaluations)",
            ));
        }
        if self.suite == Suite::Rfc9497 && matches!(self.mode, Mode::Cardinality | Mode::Sum) {
            return Err(CoreError::invalid(
                "suite",
                None,
                "the RFC 9497 suite is available in intersection and labelled modes (cardinality and sum are zone-opt protocols)",
            ));
        }
        Ok(())
    }

    fn h2g_dst(&self) -> &'static [u8] {
        self.suite.h2g_dst(self.verifiable)
    }

    fn transcript(&self) -> Transcript {
        match self.suite {
            Suite::Rfc9497 => rfc9497::VOPRF_TRANSCRIPT,
            Suite::ZoneOptV1 => dleq::ZONE_OPT_V1,
        }
    }

    pub(crate) fn check(&self, header: &Header, what: &str) -> CoreResult<()> {
        if header.mode != self.mode {
            return Err(CoreError::invalid(
                what,
                None,
                format!(
                    "mode {} does not match this party's mode {}",
                    header.mode.name(),
                    self.mode.name()
                ),
            ));
        }
        if header.flags != self.flags() {
            return Err(CoreError::invalid(
                what,
                None,
                "verifiable / key-kind / suite options differ between the parties",
            ));
        }
        Ok(())
    }
}

pub(crate) fn session_id() -> CoreResult<[u8; 16]> {
    let mut s = [0_u8; 16];
    getrandom::fill(&mut s).map_err(|e| CoreError::Internal(format!("no OS randomness: {e}")))?;
    Ok(s)
}

/// Canonical keys of a column, in parallel (errors name the first bad row). A key may hold
/// at most 65535 bytes (RFC 9497's `Finalize` encodes its length in two bytes).
pub(super) fn canonical_keys(
    col: StrColumn<'_>,
    kind: KeyKind,
    field: &str,
) -> CoreResult<Vec<Vec<u8>>> {
    col.check(field)?;
    (0..col.len())
        .into_par_iter()
        .with_min_len(BATCH)
        .map(|i| {
            let k = canonical_key(col.get(i), kind, field, i)?;
            if k.len() > MAX_INPUT_LEN {
                return Err(CoreError::invalid(
                    field,
                    Some(i),
                    format!("a key holds at most {MAX_INPUT_LEN} bytes"),
                ));
            }
            Ok(k)
        })
        .collect()
}

/// Proofs in a response: one per `transcript.max_batch()` evaluations, at least one.
pub(crate) fn proof_count(t: &Transcript, n: usize) -> usize {
    n.div_ceil(t.max_batch()).max(1)
}

/// The item range of proof `i`.
pub(super) fn proof_range(t: &Transcript, n: usize, i: usize) -> std::ops::Range<usize> {
    let max = t.max_batch();
    (i.saturating_mul(max)).min(n)..((i + 1).saturating_mul(max)).min(n)
}

/// The proofs of a response, concatenated: one per [`proof_range`].
pub(crate) fn prove_all(
    t: &Transcript,
    k: &curve25519_dalek::Scalar,
    pk: &CompressedRistretto,
    points: &[RistrettoPoint],
    blinded: &[CompressedRistretto],
    evaluated: &[CompressedRistretto],
) -> CoreResult<Vec<u8>> {
    let n = points.len();
    let mut proofs = Vec::with_capacity(64 * proof_count(t, n));
    for i in 0..proof_count(t, n) {
        let r = proof_range(t, n, i);
        proofs.extend_from_slice(&dleq::prove(
            t,
            k,
            pk,
            &points[r.clone()],
            &blinded[r.clone()],
            &evaluated[r],
        )?);
    }
    Ok(proofs)
}

/// Check every proof of a response (`proofs` holds [`proof_count`] of them).
pub(crate) fn verify_all(
    t: &Transcript,
    pk: &CompressedRistretto,
    c_points: &[RistrettoPoint],
    d_points: &[RistrettoPoint],
    c: &[CompressedRistretto],
    d: &[CompressedRistretto],
    proofs: &[u8],
) -> CoreResult<()> {
    let n = c_points.len();
    if proofs.len() != 64 * proof_count(t, n) {
        return Err(CoreError::VerificationFailed(
            "DLEQ proof: wrong number of proofs".into(),
        ));
    }
    for (i, proof) in proofs.chunks(64).enumerate() {
        let r = proof_range(t, n, i);
        dleq::verify(
            t,
            pk,
            &c_points[r.clone()],
            &d_points[r.clone()],
            &c[r.clone()],
            &d[r],
            proof,
        )?;
    }
    Ok(())
}

/// Distinct keys in first-seen order, and the distinct index of every row.
pub(crate) fn distinct(keys: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<u32>) {
    let mut index: HashMap<&[u8], u32> = HashMap::with_capacity(keys.len());
    let mut row_to = Vec::with_capacity(keys.len());
    let mut firsts = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let next = index.len() as u32;
        let id = *index.entry(k.as_slice()).or_insert(next);
        if id == next {
            firsts.push(i);
        }
        row_to.push(id);
    }
    drop(index);
    let mut slots: Vec<Option<Vec<u8>>> = keys.into_iter().map(Some).collect();
    let uniq = firsts
        .iter()
        .map(|&i| slots[i].take().unwrap_or_default())
        .collect();
    (uniq, row_to)
}

pub(crate) fn tag_of(output: &[u8; 64]) -> [u8; TAG_LEN] {
    let mut t = [0_u8; TAG_LEN];
    t.copy_from_slice(&output[..TAG_LEN]);
    t
}

/// In cardinality mode the receiver cannot tell which key an evaluation belongs to (they are
/// shuffled), so its tags hash the group element alone (zone-opt suite only).
pub(super) fn output_for(options: &Options, key: &[u8], u: &CompressedRistretto) -> [u8; 64] {
    if options.mode == Mode::Cardinality {
        oprf_output(&[], u)
    } else {
        options.suite.output(key, u)
    }
}

pub(super) const RECORD_HEAD: usize = 5;

/// Per-column byte widths (the longest value), which pad every record to one length.
pub(super) fn column_widths(payload: &Payload, rows: usize) -> CoreResult<Vec<u32>> {
    payload
        .columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            let view = StrColumn {
                offsets: &col.offsets,
                data: &col.data,
            };
            let field = format!("payload[{c}]");
            view.check(&field)?;
            if view.len() != rows {
                return Err(CoreError::invalid(
                    field,
                    None,
                    "payload column length differs from keys",
                ));
            }
            if col.valid.as_ref().is_some_and(|v| v.len() != rows) {
                return Err(CoreError::invalid(
                    field,
                    None,
                    "validity length differs from keys",
                ));
            }
            let w = (0..rows).map(|i| view.get(i).len()).max().unwrap_or(0);
            u32::try_from(w).map_err(|_| CoreError::invalid(field, None, "value longer than 4 GiB"))
        })
        .collect()
}

pub(super) fn write_record(payload: &Payload, widths: &[u32], row: usize, out: &mut Vec<u8>) {
    for (col, &w) in payload.columns.iter().zip(widths) {
        let value = &col.data[col.offsets[row] as usize..col.offsets[row + 1] as usize];
        let present = col.valid.as_ref().is_none_or(|v| v[row]);
        out.push(u8::from(present));
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
        out.resize(out.len() + w as usize - value.len(), 0);
    }
}

pub(super) fn aad(session: &[u8; 16], schema: &[u8], widths: &[u32]) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + schema.len() + 4 * widths.len());
    a.extend_from_slice(session);
    a.extend_from_slice(&(schema.len() as u64).to_le_bytes());
    a.extend_from_slice(schema);
    for w in widths {
        a.extend_from_slice(&w.to_le_bytes());
    }
    a
}

/// One AEAD key per (session, key); the key never repeats, so the all-zero nonce is safe.
pub(super) fn cipher(output: &[u8; 64], session: &[u8; 16]) -> ChaCha20Poly1305 {
    let mut key = aead_key(output, session);
    let c = ChaCha20Poly1305::new(&Key::from(key));
    key.zeroize();
    c
}

mod receiver;
mod sender;

pub use receiver::{Outcome, Receiver};
pub use sender::Sender;
