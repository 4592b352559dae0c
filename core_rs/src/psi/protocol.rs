//! The two parties: [`Server`] (the sender, who holds the set and optional payload) and
//! [`Client`] (the receiver, who learns what the mode allows).
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
use std::collections::{HashMap, HashSet};

use chacha20poly1305::aead::{Aead, KeyInit, Payload as AeadPayload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::Zeroize;

use super::dleq::{self, Transcript};
use super::elgamal::{self, Ciphertext, KeyPair};
use super::group::{
    decode_mul_compress, decode_points, hash_mul_compress_dst, mul_compress, random_permutation,
    SecretScalar, BATCH,
};
use super::hash::{aead_key, canonical_key, oprf_output, KeyKind, Suite};
use super::rfc9497::{self, MAX_INPUT_LEN};
use super::table::TagTable;
use super::wire::{Header, Kind, Mode, Reader, FLAG_RFC9497, FLAG_USCC, FLAG_VERIFIABLE};
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
fn canonical_keys(col: StrColumn<'_>, kind: KeyKind, field: &str) -> CoreResult<Vec<Vec<u8>>> {
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
fn proof_range(t: &Transcript, n: usize, i: usize) -> std::ops::Range<usize> {
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
fn output_for(options: &Options, key: &[u8], u: &CompressedRistretto) -> [u8; 64] {
    if options.mode == Mode::Cardinality {
        oprf_output(&[], u)
    } else {
        options.suite.output(key, u)
    }
}

const RECORD_HEAD: usize = 5;

/// Per-column byte widths (the longest value), which pad every record to one length.
fn column_widths(payload: &Payload, rows: usize) -> CoreResult<Vec<u32>> {
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

fn write_record(payload: &Payload, widths: &[u32], row: usize, out: &mut Vec<u8>) {
    for (col, &w) in payload.columns.iter().zip(widths) {
        let value = &col.data[col.offsets[row] as usize..col.offsets[row + 1] as usize];
        let present = col.valid.as_ref().is_none_or(|v| v[row]);
        out.push(u8::from(present));
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
        out.resize(out.len() + w as usize - value.len(), 0);
    }
}

fn aad(session: &[u8; 16], schema: &[u8], widths: &[u32]) -> Vec<u8> {
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
fn cipher(output: &[u8; 64], session: &[u8; 16]) -> ChaCha20Poly1305 {
    let mut key = aead_key(output, session);
    let c = ChaCha20Poly1305::new(&Key::from(key));
    key.zeroize();
    c
}

/// The sender.
pub struct Server {
    options: Options,
    session: [u8; 16],
    key: SecretScalar,
    public: CompressedRistretto,
    keys: Vec<Vec<u8>>,
    groups: Vec<Vec<u32>>,
    payload: Option<Payload>,
    min_intersection: u64,
    setup: Option<Vec<u8>>,
    answered: bool,
    receiver_len: usize,
}

impl Server {
    /// A sender over `keys` (one per row; duplicates allowed) with an optional payload
    /// (labelled mode only). `min_intersection` is the smallest intersection for which the
    /// sum mode releases an aggregate. O(n) to canonicalise and group.
    pub fn new(
        keys: StrColumn<'_>,
        payload: Option<Payload>,
        options: Options,
        min_intersection: u64,
    ) -> CoreResult<Self> {
        options.validate()?;
        if (options.mode == Mode::Labelled) != payload.is_some() {
            return Err(CoreError::invalid(
                "payload",
                None,
                "a payload is required in labelled mode and refused in the others",
            ));
        }
        let canon = canonical_keys(keys, options.key_kind, "keys")?;
        let rows = canon.len();
        let (keys, row_to) = distinct(canon);
        let mut groups: Vec<Vec<u32>> = Vec::new();
        if payload.is_some() {
            groups = vec![Vec::new(); keys.len()];
            for (row, &g) in row_to.iter().enumerate() {
                groups[g as usize].push(row as u32);
            }
        }
        if let Some(p) = &payload {
            column_widths(p, rows)?;
        }
        let key = SecretScalar::random()?;
        let public = RistrettoPoint::mul_base(&key.0).compress();
        Ok(Self {
            options,
            session: session_id()?,
            key,
            public,
            keys,
            groups,
            payload,
            min_intersection,
            setup: None,
            answered: false,
            receiver_len: 0,
        })
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    /// The receiver's number of distinct keys, once its request is answered.
    pub fn receiver_len(&self) -> usize {
        self.receiver_len
    }

    /// The number of distinct keys (what the receiver learns of the sender's size).
    pub fn distinct_len(&self) -> usize {
        self.keys.len()
    }

    /// The hash suite of this session.
    pub fn suite(&self) -> Suite {
        self.options.suite
    }

    fn header(&self, kind: Kind, receiver_session: [u8; 16]) -> Header {
        Header {
            kind,
            mode: self.options.mode,
            flags: self.options.flags(),
            sender_session: self.session,
            receiver_session,
        }
    }

    /// The setup message (computed once per session, then reused).
    pub fn setup_message(&mut self) -> CoreResult<Vec<u8>> {
        if let Some(s) = &self.setup {
            return Ok(s.clone());
        }
        let mut out = Vec::new();
        self.header(Kind::Setup, [0; 16]).write(&mut out);
        if self.options.verifiable {
            out.extend_from_slice(self.public.as_bytes());
        }
        let u = hash_mul_compress_dst(&self.keys, &self.key.0, self.options.h2g_dst())?;
        match self.options.mode {
            Mode::Intersection | Mode::Cardinality => {
                let options = self.options;
                let mut tags: Vec<[u8; TAG_LEN]> = self
                    .keys
                    .par_iter()
                    .zip(u.par_iter())
                    .with_min_len(BATCH)
                    .map(|(k, p)| tag_of(&output_for(&options, k, p)))
                    .collect();
                tags.par_sort_unstable();
                out.extend_from_slice(&(tags.len() as u64).to_le_bytes());
                for t in &tags {
                    out.extend_from_slice(t);
                }
            }
            Mode::Labelled => self.write_labelled(&u, &mut out)?,
            Mode::Sum => {
                let mut points: Vec<[u8; 32]> = u.iter().map(|c| c.to_bytes()).collect();
                points.par_sort_unstable();
                out.extend_from_slice(&(points.len() as u64).to_le_bytes());
                for p in &points {
                    out.extend_from_slice(p);
                }
            }
        }
        self.setup = Some(out.clone());
        Ok(out)
    }

    fn write_labelled(&self, u: &[CompressedRistretto], out: &mut Vec<u8>) -> CoreResult<()> {
        let payload = self
            .payload
            .as_ref()
            .ok_or_else(|| CoreError::Internal("labelled mode without payload".into()))?;
        let rows = self.groups.iter().map(Vec::len).sum();
        let widths = column_widths(payload, rows)?;
        let record_len: usize = widths.iter().map(|&w| RECORD_HEAD + w as usize).sum();
        let max_group = self.groups.iter().map(Vec::len).max().unwrap_or(0);
        let plain_len = 4 + max_group * record_len;
        let ad = aad(&self.session, &payload.schema, &widths);
        let session = self.session;
        let suite = self.options.suite;
        let mut entries: Vec<([u8; TAG_LEN], Vec<u8>)> = self
            .keys
            .par_iter()
            .zip(u.par_iter())
            .zip(self.groups.par_iter())
            .with_min_len(256)
            .map(|((k, p), group)| {
                let output = suite.output(k, p);
                let mut plain = Vec::with_capacity(plain_len);
                plain.extend_from_slice(&(group.len() as u32).to_le_bytes());
                for &row in group {
                    write_record(payload, &widths, row as usize, &mut plain);
                }
                plain.resize(plain_len, 0);
                let ct = cipher(&output, &session)
                    .encrypt(
                        &Nonce::default(),
                        AeadPayload {
                            msg: &plain,
                            aad: &ad,
                        },
                    )
                    .map_err(|_| CoreError::Internal("AEAD encryption failed".into()))?;
                Ok((tag_of(&output), ct))
            })
            .collect::<CoreResult<Vec<_>>>()?;
        entries.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.extend_from_slice(&(payload.schema.len() as u32).to_le_bytes());
        out.extend_from_slice(&payload.schema);
        out.extend_from_slice(&(widths.len() as u32).to_le_bytes());
        for w in &widths {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&(max_group as u32).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for (t, ct) in &entries {
            out.extend_from_slice(t);
            out.extend_from_slice(ct);
        }
        Ok(())
    }

    /// Answer the receiver's request. One request per session: a second one is refused.
    pub fn respond(&mut self, request: &[u8]) -> CoreResult<Vec<u8>> {
        if self.answered {
            return Err(CoreError::invalid(
                "request",
                None,
                "this session already answered a request; a replayed or second request is refused",
            ));
        }
        let (header, mut r) = Reader::open(request, Kind::Request)?;
        self.options.check(&header, "request")?;
        let mut out = Vec::new();
        self.header(Kind::Response, header.receiver_session)
            .write(&mut out);
        if self.options.mode == Mode::Sum {
            if header.sender_session != self.session {
                return Err(CoreError::invalid(
                    "request",
                    None,
                    "the request was made for another sender session (wrong session id or replay)",
                ));
            }
            self.respond_sum(&mut r, &mut out)?;
            r.finish()?;
            self.answered = true;
            return Ok(out);
        }
        let n = r.count(32, "blinded points")?;
        let data = r.bytes(32 * n, "blinded points")?;
        r.finish()?;
        self.receiver_len = n;
        let (evaluated, proof) = if self.options.verifiable {
            let points = decode_points(data, "request")?;
            let evaluated = mul_compress(&points, &self.key.0);
            let blinded: Vec<CompressedRistretto> = data
                .chunks(32)
                .map(|b| CompressedRistretto::from_slice(b).unwrap_or_default())
                .collect();
            let t = self.options.transcript();
            let proofs = prove_all(&t, &self.key.0, &self.public, &points, &blinded, &evaluated)?;
            (evaluated, Some(proofs))
        } else {
            // Decode, multiply and compress batch by batch: no decoded copy of the request.
            (decode_mul_compress(data, &self.key.0, "request")?, None)
        };
        out.extend_from_slice(&(n as u64).to_le_bytes());
        if self.options.mode == Mode::Cardinality {
            for i in random_permutation(n)? {
                out.extend_from_slice(evaluated[i].as_bytes());
            }
        } else {
            for e in &evaluated {
                out.extend_from_slice(e.as_bytes());
            }
        }
        if let Some(p) = proof {
            out.extend_from_slice(&p);
        }
        self.answered = true;
        Ok(out)
    }

    fn respond_sum(&mut self, r: &mut Reader<'_>, out: &mut Vec<u8>) -> CoreResult<()> {
        let pk_bytes = r.bytes(32, "public key")?;
        let pk = super::group::decode_point(pk_bytes, "public key", 0)?;
        let n_s = r.count(32, "re-blinded set")?;
        if n_s != self.keys.len() {
            return Err(CoreError::invalid(
                "request",
                None,
                "the re-blinded set does not have the sender's size",
            ));
        }
        let doubly = r.bytes(32 * n_s, "re-blinded set")?;
        let n_r = r.count(96, "items")?;
        let items = r.bytes(96 * n_r, "items")?;
        self.receiver_len = n_r;
        // The sender's set, blinded by the receiver: validate, then index.
        decode_points(doubly, "re-blinded set")?;
        let set: HashSet<&[u8]> = doubly.chunks(32).collect();
        let blinded: Vec<u8> = items.chunks(96).flat_map(|c| c[..32].to_vec()).collect();
        let points = decode_points(&blinded, "items")?;
        let evaluated = mul_compress(&points, &self.key.0);
        let mut count = 0_u64;
        let mut sum = Ciphertext::zero();
        for (i, e) in evaluated.iter().enumerate() {
            if set.contains(&e.as_bytes()[..]) {
                count += 1;
                let ct = Ciphertext::from_bytes(&items[96 * i + 32..96 * i + 96], "items", i)?;
                sum = sum.add(&ct);
            }
        }
        if count >= self.min_intersection.max(1) {
            out.push(1);
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&elgamal::rerandomise(&pk, &sum)?.to_bytes());
        } else {
            out.push(0);
        }
        Ok(())
    }
}

/// What the receiver learns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Rows of the receiver's keys in the intersection, ascending (one per output row).
    pub indices: Vec<i64>,
    /// Labelled mode: one record per output row, `record_len` bytes each.
    pub records: Vec<u8>,
    pub record_len: usize,
    pub widths: Vec<u32>,
    pub schema: Vec<u8>,
    /// Cardinality and sum: the number of common distinct keys (sum: only when released).
    pub count: Option<u64>,
    /// Sum: the sum over the intersection, when released.
    pub sum: Option<u64>,
}

/// The receiver.
pub struct Client {
    options: Options,
    session: [u8; 16],
    blind: SecretScalar,
    keys: Vec<Vec<u8>>,
    row_to: Vec<u32>,
    values: Vec<u64>,
    left_join: bool,
    elgamal: Option<KeyPair>,
    blinded: Vec<u8>,
    follow_setup_suite: bool,
    requested: bool,
    finished: bool,
}

impl Client {
    /// A receiver over `keys` (duplicates allowed). `values` (sum mode only): one
    /// non-negative integer per row, summed per distinct key before encryption.
    pub fn new(
        keys: StrColumn<'_>,
        values: Option<&[u64]>,
        options: Options,
        left_join: bool,
    ) -> CoreResult<Self> {
        options.validate()?;
        let canon = canonical_keys(keys, options.key_kind, "keys")?;
        let rows = canon.len();
        let (keys, row_to) = distinct(canon);
        let mut per_key = Vec::new();
        match (options.mode, values) {
            (Mode::Sum, Some(v)) => {
                if v.len() != rows {
                    return Err(CoreError::invalid(
                        "values",
                        None,
                        "length differs from keys",
                    ));
                }
                per_key = vec![0_u64; keys.len()];
                let mut total = 0_u64;
                for (row, &x) in v.iter().enumerate() {
                    total = total
                        .checked_add(x)
                        .filter(|&t| t <= elgamal::MAX_SUM)
                        .ok_or_else(|| {
                            CoreError::invalid(
                                "values",
                                Some(row),
                                "the values' total exceeds the decryptable bound 2^40",
                            )
                        })?;
                    per_key[row_to[row] as usize] += x;
                }
            }
            (Mode::Sum, None) => {
                return Err(CoreError::invalid("values", None, "required in sum mode"))
            }
            (_, Some(_)) => {
                return Err(CoreError::invalid("values", None, "only used in sum mode"))
            }
            _ => {}
        }
        Ok(Self {
            options,
            session: session_id()?,
            blind: SecretScalar::random()?,
            keys,
            row_to,
            values: per_key,
            left_join,
            elgamal: None,
            blinded: Vec::new(),
            follow_setup_suite: false,
            requested: false,
            finished: false,
        })
    }

    /// Use the hash suite the sender's setup names (when the other options agree) instead
    /// of the configured one: a receiver that was not told a suite reads both formats.
    pub fn follow_setup_suite(&mut self) {
        self.follow_setup_suite = true;
    }

    /// The hash suite this session uses (after [`Self::request`], the one it followed).
    pub fn suite(&self) -> Suite {
        self.options.suite
    }

    fn adopt_setup_suite(&mut self, setup: &[u8]) -> CoreResult<()> {
        let (sh, _) = Reader::open(setup, Kind::Setup)?;
        if sh.flags & !FLAG_RFC9497 != self.options.flags() & !FLAG_RFC9497 {
            // Other options differ: `finish` reports it.
            return Ok(());
        }
        let suite = if sh.flags & FLAG_RFC9497 != 0 {
            Suite::Rfc9497
        } else {
            Suite::ZoneOptV1
        };
        let options = Options {
            suite,
            ..self.options
        };
        options.validate()?;
        self.options = options;
        Ok(())
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    /// The blinded request. Sum mode needs the sender's setup first (it re-blinds the
    /// sender's set); the other modes do not need `setup`, but one given must be a setup
    /// of this mode and these options (so a garbage message is refused, not ignored).
    pub fn request(&mut self, setup: Option<&[u8]>) -> CoreResult<Vec<u8>> {
        if self.requested {
            return Err(CoreError::invalid(
                "request",
                None,
                "this session already made its request",
            ));
        }
        if let (true, Some(setup)) = (self.follow_setup_suite, setup) {
            self.adopt_setup_suite(setup)?;
        }
        if let (Some(given), false) = (setup, self.options.mode == Mode::Sum) {
            let (sh, _) = Reader::open(given, Kind::Setup)?;
            self.options.check(&sh, "setup")?;
        }
        let mut header = Header {
            kind: Kind::Request,
            mode: self.options.mode,
            flags: self.options.flags(),
            sender_session: [0; 16],
            receiver_session: self.session,
        };
        let blinded = hash_mul_compress_dst(&self.keys, &self.blind.0, self.options.h2g_dst())?;
        let mut out = Vec::new();
        if self.options.mode == Mode::Sum {
            let setup = setup.ok_or_else(|| {
                CoreError::invalid(
                    "setup",
                    None,
                    "sum mode needs the sender's setup before the request",
                )
            })?;
            let (sh, mut r) = Reader::open(setup, Kind::Setup)?;
            self.options.check(&sh, "setup")?;
            header.sender_session = sh.sender_session;
            let n_s = r.count(32, "sender set")?;
            let set = r.bytes(32 * n_s, "sender set")?;
            r.finish()?;
            let points = decode_points(set, "setup")?;
            let mut doubly: Vec<[u8; 32]> = mul_compress(&points, &self.blind.0)
                .iter()
                .map(|c| c.to_bytes())
                .collect();
            doubly.par_sort_unstable();
            let kp = KeyPair::generate()?;
            let cts = elgamal::encrypt_all(&kp.public, &self.values)?;
            header.write(&mut out);
            out.extend_from_slice(kp.public.compress().as_bytes());
            out.extend_from_slice(&(doubly.len() as u64).to_le_bytes());
            for d in &doubly {
                out.extend_from_slice(d);
            }
            out.extend_from_slice(&(blinded.len() as u64).to_le_bytes());
            for i in random_permutation(blinded.len())? {
                out.extend_from_slice(blinded[i].as_bytes());
                out.extend_from_slice(&cts[i].to_bytes());
            }
            self.elgamal = Some(kp);
        } else {
            header.write(&mut out);
            out.extend_from_slice(&(blinded.len() as u64).to_le_bytes());
            for b in &blinded {
                out.extend_from_slice(b.as_bytes());
            }
            if self.options.verifiable {
                self.blinded = blinded.iter().flat_map(|b| b.to_bytes()).collect();
            }
        }
        self.requested = true;
        Ok(out)
    }

    /// Check both messages belong to this session, then compute the outcome.
    pub fn finish(&mut self, setup: &[u8], response: &[u8]) -> CoreResult<Outcome> {
        if !self.requested {
            return Err(CoreError::invalid(
                "response",
                None,
                "make the request first",
            ));
        }
        if self.finished {
            return Err(CoreError::invalid(
                "response",
                None,
                "this session already finished; a replayed response is refused",
            ));
        }
        let (sh, mut sr) = Reader::open(setup, Kind::Setup)?;
        self.options.check(&sh, "setup")?;
        let (rh, mut rr) = Reader::open(response, Kind::Response)?;
        self.options.check(&rh, "response")?;
        if rh.receiver_session != self.session {
            return Err(CoreError::invalid(
                "response",
                None,
                "the response answers another receiver session (wrong session id or replay)",
            ));
        }
        if rh.sender_session != sh.sender_session {
            return Err(CoreError::invalid(
                "response",
                None,
                "the response and the setup come from different sender sessions (wrong session id)",
            ));
        }
        let outcome = if self.options.mode == Mode::Sum {
            let n_s = sr.count(32, "sender set")?;
            sr.bytes(32 * n_s, "sender set")?;
            self.finish_sum(&mut rr)?
        } else {
            self.finish_oprf(&sh, &mut sr, &mut rr)?
        };
        sr.finish()?;
        rr.finish()?;
        self.finished = true;
        Ok(outcome)
    }

    fn finish_sum(&self, rr: &mut Reader<'_>) -> CoreResult<Outcome> {
        let released = rr.u8("released")?;
        if released == 0 {
            return Ok(Outcome::default());
        }
        let count = rr.u64("count")?;
        let ct = Ciphertext::from_bytes(rr.bytes(64, "sum")?, "response", 0)?;
        let kp = self
            .elgamal
            .as_ref()
            .ok_or_else(|| CoreError::Internal("sum mode without a key pair".into()))?;
        let total: u64 = self.values.iter().sum();
        let sum = elgamal::discrete_log(&kp.decrypt_point(&ct), total)?;
        Ok(Outcome {
            count: Some(count),
            sum: Some(sum),
            ..Outcome::default()
        })
    }

    fn finish_oprf(
        &self,
        sh: &Header,
        sr: &mut Reader<'_>,
        rr: &mut Reader<'_>,
    ) -> CoreResult<Outcome> {
        let mode = self.options.mode;
        let public = if self.options.verifiable {
            Some(CompressedRistretto::from_slice(sr.bytes(32, "public key")?).unwrap_or_default())
        } else {
            None
        };
        // The sender's table.
        let (schema, widths, max_group, entry_len) = if mode == Mode::Labelled {
            let schema_len = sr.u32("schema length")? as usize;
            let schema = sr.bytes(schema_len, "schema")?.to_vec();
            let ncols = sr.u32("column count")? as usize;
            let mut widths = Vec::with_capacity(ncols.min(4096));
            for _ in 0..ncols {
                widths.push(sr.u32("column width")?);
            }
            let max_group = sr.u32("largest group")? as usize;
            // Sizes announced by the sender: checked, an overflow is a malformed setup.
            let entry = widths
                .iter()
                .try_fold(0_usize, |acc, &w| acc.checked_add(RECORD_HEAD + w as usize))
                .and_then(|record_len| max_group.checked_mul(record_len))
                .and_then(|group| group.checked_add(TAG_LEN + 4 + 16))
                .ok_or_else(|| {
                    CoreError::invalid(
                        "setup",
                        None,
                        "the announced column widths and group size overflow an entry",
                    )
                })?;
            (schema, widths, max_group, entry)
        } else {
            (Vec::new(), Vec::new(), 0, TAG_LEN)
        };
        let record_len: usize = widths.iter().fold(0_usize, |acc, &w| {
            acc.saturating_add(RECORD_HEAD + w as usize)
        });
        let n_s = sr.count(entry_len, "sender table")?;
        let table = sr.bytes(n_s * entry_len, "sender table")?;
        let tags = TagTable::new(table, entry_len, 0, "setup")?;
        // The evaluations.
        let n = rr.count(32, "evaluations")?;
        if n != self.keys.len() {
            return Err(CoreError::invalid(
                "response",
                None,
                format!("{n} evaluations for {} requested keys", self.keys.len()),
            ));
        }
        let data = rr.bytes(32 * n, "evaluations")?;
        let unblind = SecretScalar(self.blind.0.invert());
        let u = if let Some(pk) = public {
            let evaluated = decode_points(data, "response")?;
            let t = self.options.transcript();
            let proofs = rr.bytes(64 * proof_count(&t, n), "proofs")?;
            let c_points = decode_points(&self.blinded, "request")?;
            let c: Vec<CompressedRistretto> = self
                .blinded
                .chunks(32)
                .map(|b| CompressedRistretto::from_slice(b).unwrap_or_default())
                .collect();
            let d: Vec<CompressedRistretto> = data
                .chunks(32)
                .map(|b| CompressedRistretto::from_slice(b).unwrap_or_default())
                .collect();
            verify_all(&t, &pk, &c_points, &evaluated, &c, &d, proofs)?;
            mul_compress(&evaluated, &unblind.0)
        } else {
            // Decode, unblind and compress batch by batch: no decoded copy of the response.
            decode_mul_compress(data, &unblind.0, "response")?
        };
        if mode == Mode::Cardinality {
            let count = u
                .par_iter()
                .with_min_len(BATCH)
                .filter(|p| tags.find(&tag_of(&oprf_output(&[], p))).is_some())
                .count();
            return Ok(Outcome {
                count: Some(count as u64),
                ..Outcome::default()
            });
        }
        if mode == Mode::Intersection {
            let hit: Vec<bool> = self
                .keys
                .par_iter()
                .zip(u.par_iter())
                .with_min_len(BATCH)
                .map(|(k, p)| {
                    tags.find(&tag_of(&self.options.suite.output(k, p)))
                        .is_some()
                })
                .collect();
            let indices = self
                .row_to
                .iter()
                .enumerate()
                .filter(|(_, &d)| hit[d as usize])
                .map(|(row, _)| row as i64)
                .collect();
            return Ok(Outcome {
                indices,
                ..Outcome::default()
            });
        }
        let outputs: Vec<[u8; 64]> = self
            .keys
            .par_iter()
            .zip(u.par_iter())
            .with_min_len(BATCH)
            .map(|(k, p)| output_for(&self.options, k, p))
            .collect();
        let hit: Vec<Option<usize>> = outputs
            .par_iter()
            .with_min_len(BATCH)
            .map(|o| tags.find(&tag_of(o)))
            .collect();
        // Labelled: decrypt each matched group once.
        let ad = aad(&sh.sender_session, &schema, &widths);
        let session = sh.sender_session;
        let plains: Vec<Option<(usize, Vec<u8>)>> = hit
            .par_iter()
            .zip(outputs.par_iter())
            .map(|(h, o)| match h {
                None => Ok(None),
                Some(e) => {
                    let ct = &table[e * entry_len + TAG_LEN..(e + 1) * entry_len];
                    let plain = cipher(o, &session)
                        .decrypt(&Nonce::default(), AeadPayload { msg: ct, aad: &ad })
                        .map_err(|_| {
                            CoreError::VerificationFailed(
                                "a payload failed authentication (tampered, or another session's)"
                                    .into(),
                            )
                        })?;
                    let mut c = [0_u8; 4];
                    c.copy_from_slice(&plain[..4]);
                    let m = u32::from_le_bytes(c) as usize;
                    if m == 0 || m > max_group {
                        return Err(CoreError::VerificationFailed(
                            "a payload group has an invalid size".into(),
                        ));
                    }
                    Ok(Some((m, plain[4..4 + m * record_len].to_vec())))
                }
            })
            .collect::<CoreResult<Vec<_>>>()?;
        let mut indices = Vec::new();
        let mut records = Vec::new();
        for (row, &d) in self.row_to.iter().enumerate() {
            match &plains[d as usize] {
                Some((m, p)) => {
                    indices.extend(std::iter::repeat_n(row as i64, *m));
                    records.extend_from_slice(p);
                }
                None if self.left_join => {
                    indices.push(row as i64);
                    records.resize(records.len() + record_len, 0);
                }
                None => {}
            }
        }
        Ok(Outcome {
            indices,
            records,
            record_len,
            widths,
            schema,
            ..Outcome::default()
        })
    }
}
