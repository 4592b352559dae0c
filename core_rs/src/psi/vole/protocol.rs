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
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::aeshash::{hash_key, tccr, tccr_many_same, Aes};
use super::field::mul;
use super::okvs::{self, Hasher};
use super::ot::{
    base_send, iknp_receive, iknp_send, random_u128, BaseReceiver, BASE_OTS, RECEIVER_MSG_LEN,
};
use super::svole::{self, Params, ReceiverChoices};
use crate::error::{CoreError, CoreResult};
use crate::psi::hash::{canonical_key, KeyKind};
use crate::psi::protocol::StrColumn;

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

/// The sender: holds `delta`, learns only the receiver's number of distinct keys.
pub struct Server {
    kind: KeyKind,
    session: [u8; 16],
    receiver_session: [u8; 16],
    keys: Vec<u128>,
    delta: u128,
    base: Option<BaseReceiver>,
    setup: Option<Vec<u8>>,
    b: Vec<u128>,
    receiver_len: usize,
    step: Step,
}

impl Server {
    /// A sender over `keys` (one per row; duplicates allowed). O(n).
    pub fn new(keys: StrColumn<'_>, kind: KeyKind) -> CoreResult<Self> {
        let mut keys = hashed_keys(keys, kind)?;
        keys.par_sort_unstable();
        keys.dedup();
        announced(keys.len() as u64, "keys")?;
        Ok(Self {
            kind,
            session: session_id()?,
            receiver_session: [0; 16],
            keys,
            delta: random_u128()?,
            base: None,
            setup: None,
            b: Vec::new(),
            receiver_len: 0,
            step: Step::New,
        })
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    pub fn distinct_len(&self) -> usize {
        self.keys.len()
    }

    /// The receiver's number of distinct keys (0 before its request).
    pub fn receiver_len(&self) -> usize {
        self.receiver_len
    }

    /// Message 1 (computed once; the same bytes on every call).
    pub fn setup_message(&mut self) -> CoreResult<Vec<u8>> {
        if let Some(s) = &self.setup {
            return Ok(s.clone());
        }
        let (base, msg) = BaseReceiver::new(self.delta, ot_context(&self.session))?;
        let mut out = Vec::with_capacity(HEADER_LEN + 8 + msg.len());
        header(
            &mut out,
            Kind::Setup,
            flags(self.kind),
            &self.session,
            &[0; 16],
        );
        out.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
        out.extend_from_slice(&msg);
        self.base = Some(base);
        self.setup = Some(out.clone());
        self.step = Step::SetupSent;
        Ok(out)
    }

    /// Answer message 2 with message 3, or message 4 with message 5.
    pub fn respond(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        match (message_kind(msg)?, self.step) {
            (Kind::Request, Step::SetupSent) => self.vole(msg),
            (Kind::Correction, Step::VoleSent) => self.tags(msg),
            (k, _) => Err(CoreError::invalid(
                k.name(),
                None,
                "out of order: the sender answers one request, then one correction, after its setup",
            )),
        }
    }

    fn vole(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        let (mut r, _, receiver) = Reader::open(
            msg,
            Kind::Request,
            flags(self.kind),
            Some(&self.session),
            None,
        )?;
        let n_r = announced(r.u64("receiver size")?, "request")?;
        let params = Params::new(okvs::columns(n_r))?;
        let point = r.bytes(32, "base-OT point")?;
        let blocks = params.cots() / 128;
        let u = r.u128s(BASE_OTS * blocks, "IKNP matrix")?;
        r.finish()?;
        let base = self
            .base
            .as_ref()
            .ok_or_else(|| CoreError::Internal("no base-OT state".into()))?;
        let seeds = base.finish(point)?;
        self.base = None;
        let q = iknp_send(&seeds, self.delta, &u, blocks);
        let (body, b) = svole::send(&params, &q, self.delta, code_seed(&self.session, &receiver))?;
        self.b = b;
        self.receiver_session = receiver;
        self.receiver_len = n_r;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        header(
            &mut out,
            Kind::Vole,
            flags(self.kind),
            &self.session,
            &receiver,
        );
        out.extend_from_slice(&body);
        self.step = Step::VoleSent;
        Ok(out)
    }

    fn tags(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        let (mut r, _, _) = Reader::open(
            msg,
            Kind::Correction,
            flags(self.kind),
            Some(&self.session),
            Some(&self.receiver_session),
        )?;
        let m = self.b.len();
        let seed = r.u128s(1, "OKVS seed")?[0];
        let corrected = r.u128s(m, "corrected OKVS")?;
        r.finish()?;
        let delta = self.delta;
        // K = B + delta * A' = C + delta * P
        let k: Vec<u128> = self
            .b
            .par_iter()
            .zip(corrected.par_iter())
            .map(|(&b, &a)| b ^ mul(delta, a))
            .collect();
        self.b = Vec::new();
        let hasher = Hasher::new(seed, m);
        let (rows, values) = hasher.rows_values(&self.keys);
        let len = tag_len(self.receiver_len, self.keys.len());
        let mut tags = okvs::decode_many(&k, &rows);
        tags.par_iter_mut()
            .zip(values.par_iter())
            .for_each(|(t, &v)| *t ^= mul(delta, v));
        tags_in_place(&mut tags, len);
        tags.par_sort_unstable();
        let mut out = Vec::with_capacity(HEADER_LEN + 9 + tags.len() * len);
        header(
            &mut out,
            Kind::Response,
            flags(self.kind),
            &self.session,
            &self.receiver_session,
        );
        out.push(len as u8);
        out.extend_from_slice(&(tags.len() as u64).to_le_bytes());
        for t in &tags {
            out.extend_from_slice(&t.to_le_bytes()[..len]);
        }
        self.step = Step::Done;
        Ok(out)
    }
}

/// The receiver: learns which of its rows have a key in the sender's set, and `|Y|`.
pub struct Client {
    kind: KeyKind,
    session: [u8; 16],
    sender_session: [u8; 16],
    keys: Vec<u128>,
    row_to: Vec<u32>,
    sender_len: usize,
    params: Option<Params>,
    t: Vec<u128>,
    choices: Option<ReceiverChoices>,
    own_tags: Vec<u128>,
    step: Step,
}

impl Client {
    /// A receiver over `keys` (one per row; duplicates allowed). O(n).
    pub fn new(keys: StrColumn<'_>, kind: KeyKind) -> CoreResult<Self> {
        let hashed = hashed_keys(keys, kind)?;
        announced(hashed.len() as u64, "keys")?;
        let mut index: HashMap<u128, u32, Fast> =
            HashMap::with_capacity_and_hasher(hashed.len(), Fast::default());
        let mut distinct = Vec::new();
        let row_to = hashed
            .iter()
            .map(|&k| {
                let next = distinct.len() as u32;
                let id = *index.entry(k).or_insert(next);
                if id == next {
                    distinct.push(k);
                }
                id
            })
            .collect();
        Ok(Self {
            kind,
            session: session_id()?,
            sender_session: [0; 16],
            keys: distinct,
            row_to,
            sender_len: 0,
            params: None,
            t: Vec::new(),
            choices: None,
            own_tags: Vec::new(),
            step: Step::New,
        })
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    /// The sender's number of distinct keys (known after its setup).
    pub fn sender_len(&self) -> usize {
        self.sender_len
    }

    /// Answer message 1 (the setup) with message 2 (once).
    pub fn request(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        if self.step != Step::New {
            return Err(CoreError::invalid(
                "setup",
                None,
                "out of order: the receiver answers one setup",
            ));
        }
        self.ot(msg)
    }

    /// Answer message 3 (the VOLE message) with message 4 (once, after the request).
    pub fn correction(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        if self.step != Step::SetupSent {
            return Err(CoreError::invalid(
                "vole",
                None,
                "out of order: the receiver answers one vole message, after its request",
            ));
        }
        self.correct(msg)
    }

    fn ot(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        let (mut r, sender, _) = Reader::open(msg, Kind::Setup, flags(self.kind), None, None)?;
        let n_s = announced(r.u64("sender size")?, "setup")?;
        let base_msg = r.bytes(BASE_OTS * RECEIVER_MSG_LEN, "base-OT message")?;
        r.finish()?;
        let (point, pairs) = base_send(base_msg, ot_context(&sender))?;
        let params = Params::new(okvs::columns(self.keys.len()))?;
        let choices = svole::receiver_choices(&params)?;
        let (u, t) = iknp_receive(&pairs, &choices.bits);
        let mut out = Vec::with_capacity(HEADER_LEN + 40 + u.len() * 16);
        header(
            &mut out,
            Kind::Request,
            flags(self.kind),
            &sender,
            &self.session,
        );
        out.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
        out.extend_from_slice(&point);
        for w in &u {
            out.extend_from_slice(&w.to_le_bytes());
        }
        self.sender_session = sender;
        self.sender_len = n_s;
        self.params = Some(params);
        self.t = t;
        self.choices = Some(choices);
        self.step = Step::SetupSent;
        Ok(out)
    }

    fn correct(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        let (mut r, _, _) = Reader::open(
            msg,
            Kind::Vole,
            flags(self.kind),
            Some(&self.sender_session),
            Some(&self.session),
        )?;
        let (Some(params), Some(choices)) = (self.params, self.choices.as_ref()) else {
            return Err(CoreError::Internal("no OT state".into()));
        };
        let body = r.bytes(params.sender_msg_len(), "VOLE message")?;
        r.finish()?;
        let seed = code_seed(&self.sender_session, &self.session);
        let (a, c) = svole::receive(&params, &self.t, choices, body, seed)?;
        self.t = Vec::new();
        self.choices = None;
        let m = params.m;
        let fill = Aes::new(random_u128()?);
        let mut ctr = 0_u128;
        let mut solved = None;
        for _ in 0..MAX_OKVS_ATTEMPTS {
            let okvs_seed = random_u128()?;
            let hasher = Hasher::new(okvs_seed, m);
            let (rows, values) = hasher.rows_values(&self.keys);
            let p = okvs::encode(&rows, &values, m, || {
                ctr += 1;
                fill.encrypt(ctr)
            });
            if let Some(p) = p {
                solved = Some((okvs_seed, rows, p));
                break;
            }
        }
        let (okvs_seed, rows, p) = solved.ok_or_else(|| {
            CoreError::Internal(format!(
                "the OKVS could not be solved in {MAX_OKVS_ATTEMPTS} attempts"
            ))
        })?;
        let len = tag_len(self.keys.len(), self.sender_len);
        self.own_tags = okvs::decode_many(&c, &rows);
        tags_in_place(&mut self.own_tags, len);
        let mut out = Vec::with_capacity(HEADER_LEN + 16 * (m + 1));
        header(
            &mut out,
            Kind::Correction,
            flags(self.kind),
            &self.sender_session,
            &self.session,
        );
        out.extend_from_slice(&okvs_seed.to_le_bytes());
        let masked: Vec<u8> = p
            .par_iter()
            .zip(a.par_iter())
            .flat_map_iter(|(&pi, &ai)| (pi ^ ai).to_le_bytes())
            .collect();
        out.extend_from_slice(&masked);
        self.step = Step::VoleSent;
        Ok(out)
    }

    /// The receiver's rows (ascending) whose key is in the sender's set.
    pub fn finish(&mut self, setup: &[u8], response: &[u8]) -> CoreResult<Vec<i64>> {
        if self.step != Step::VoleSent {
            return Err(CoreError::invalid(
                "response",
                None,
                "out of order: finish needs the correction sent first, and runs once",
            ));
        }
        let (_, s, _) = Reader::open(setup, Kind::Setup, flags(self.kind), None, None)?;
        if s != self.sender_session {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the message belongs to another session",
            ));
        }
        let (mut r, _, _) = Reader::open(
            response,
            Kind::Response,
            flags(self.kind),
            Some(&self.sender_session),
            Some(&self.session),
        )?;
        let len = r.bytes(1, "tag length")?[0] as usize;
        let want = tag_len(self.keys.len(), self.sender_len);
        if len != want {
            return Err(CoreError::invalid(
                "response",
                None,
                format!("tags of {len} bytes, expected {want}"),
            ));
        }
        let n = r.u64("tag count")?;
        if n != self.sender_len as u64 {
            return Err(CoreError::invalid(
                "response",
                None,
                format!("{n} tags for a sender of {} keys", self.sender_len),
            ));
        }
        let raw = r.bytes(self.sender_len * len, "tags")?;
        r.finish()?;
        // Sort both sides and merge: sequential memory access instead of a hash table.
        let own = std::mem::take(&mut self.own_tags);
        let (theirs, mine) = rayon::join(
            || {
                let mut t: Vec<u128> = raw
                    .par_chunks_exact(len)
                    .map(|c| {
                        let mut w = [0_u8; 16];
                        w[..len].copy_from_slice(c);
                        u128::from_le_bytes(w)
                    })
                    .collect();
                t.par_sort_unstable(); // already sorted by an honest sender
                t
            },
            || {
                let mut m: Vec<(u128, u32)> = own
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| (t, i as u32))
                    .collect();
                m.par_sort_unstable();
                m
            },
        );
        let mut hit = vec![false; mine.len()];
        let mut j = 0;
        for &(t, i) in &mine {
            while j < theirs.len() && theirs[j] < t {
                j += 1;
            }
            if j < theirs.len() && theirs[j] == t {
                hit[i as usize] = true;
            }
        }
        self.step = Step::Done;
        Ok(self
            .row_to
            .iter()
            .enumerate()
            .filter(|(_, &d)| hit[d as usize])
            .map(|(i, _)| i as i64)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    fn column(keys: &[String]) -> (Vec<i64>, Vec<u8>) {
        let mut offsets = vec![0_i64];
        let mut data = Vec::new();
        for k in keys {
            data.extend_from_slice(k.as_bytes());
            offsets.push(data.len() as i64);
        }
        (offsets, data)
    }

    /// Run the five messages; return the receiver's rows and every message.
    fn run(xs: &[String], ys: &[String]) -> (Vec<i64>, Vec<Vec<u8>>) {
        let (xo, xd) = column(xs);
        let (yo, yd) = column(ys);
        let mut s = Server::new(
            StrColumn {
                offsets: &yo,
                data: &yd,
            },
            KeyKind::Text,
        )
        .unwrap();
        let mut c = Client::new(
            StrColumn {
                offsets: &xo,
                data: &xd,
            },
            KeyKind::Text,
        )
        .unwrap();
        let m1 = s.setup_message().unwrap();
        let m2 = c.request(&m1).unwrap();
        let m3 = s.respond(&m2).unwrap();
        let m4 = c.correction(&m3).unwrap();
        let m5 = s.respond(&m4).unwrap();
        let rows = c.finish(&m1, &m5).unwrap();
        let ys_distinct: BTreeSet<String> = ys.iter().map(|y| y.trim().to_uppercase()).collect();
        let xs_distinct: BTreeSet<String> = xs.iter().map(|x| x.trim().to_uppercase()).collect();
        assert_eq!(s.receiver_len(), xs_distinct.len());
        assert_eq!(c.sender_len(), ys_distinct.len());
        (rows, vec![m1, m2, m3, m4, m5])
    }

    fn expected(xs: &[String], ys: &[String]) -> Vec<i64> {
        let ys: BTreeSet<String> = ys.iter().map(|y| y.trim().to_uppercase()).collect();
        xs.iter()
            .enumerate()
            .filter(|(_, x)| ys.contains(&x.trim().to_uppercase()))
            .map(|(i, _)| i as i64)
            .collect()
    }

    fn keys(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("KEY-{i:08}")).collect()
    }

    #[test]
    fn intersection_matches_plain_set_intersection() {
        let cases: Vec<(Vec<String>, Vec<String>)> = vec![
            (vec![], vec![]),
            (keys(0..10), vec![]),
            (vec![], keys(0..10)),
            (keys(0..1), keys(0..1)),
            (keys(0..500), keys(250..900)),
            (keys(0..300), keys(300..600)),
            (keys(0..3000), keys(0..3000)),
            (
                vec!["a".into(), "A ".into(), "b".into(), "a".into(), "é".into()],
                vec!["É".into(), "a".into(), "a".into(), "zz".into()],
            ),
            (keys(0..20_000), keys(15_000..40_000)),
        ];
        for (xs, ys) in cases {
            let (rows, _) = run(&xs, &ys);
            assert_eq!(
                rows,
                expected(&xs, &ys),
                "|X| = {}, |Y| = {}",
                xs.len(),
                ys.len()
            );
        }
    }

    #[test]
    fn messages_carry_no_key_or_key_hash() {
        let xs = keys(0..2000);
        let ys = keys(1000..3000);
        let (_, msgs) = run(&xs, &ys);
        // Every key is 12 bytes; every key hash is checked by its first 8 bytes.
        let plain: HashSet<Vec<u8>> = xs
            .iter()
            .chain(&ys)
            .map(|k| k.as_bytes().to_vec())
            .collect();
        let hashed: HashSet<Vec<u8>> = xs
            .iter()
            .chain(&ys)
            .map(|k| hash_key(k.as_bytes()).to_le_bytes()[..8].to_vec())
            .collect();
        for m in &msgs {
            assert!(!m.windows(12).any(|w| plain.contains(w)), "a key appears");
            assert!(
                !m.windows(8).any(|w| hashed.contains(w)),
                "a key hash appears"
            );
        }
    }

    #[test]
    fn out_of_order_truncated_and_foreign_messages_are_refused() {
        let (xo, xd) = column(&keys(0..100));
        let (yo, yd) = column(&keys(50..150));
        let xs = StrColumn {
            offsets: &xo,
            data: &xd,
        };
        let ys = StrColumn {
            offsets: &yo,
            data: &yd,
        };
        let mut s = Server::new(ys, KeyKind::Text).unwrap();
        let mut c = Client::new(xs, KeyKind::Text).unwrap();
        let m1 = s.setup_message().unwrap();
        assert!(s.respond(&m1).is_err());
        assert!(c.request(&m1[..m1.len() - 1]).is_err());
        let mut v2 = m1.clone();
        v2[4] = 9;
        assert!(c.request(&v2).is_err());
        let mut uscc = Client::new(xs, KeyKind::Uscc);
        if let Ok(u) = uscc.as_mut() {
            assert!(u.request(&m1).is_err());
        }
        let m2 = c.request(&m1).unwrap();
        assert!(c.request(&m1).is_err(), "a second setup is refused");
        assert!(s.respond(&m2[..m2.len() - 16]).is_err());
        // A request for another session.
        let mut other = Server::new(ys, KeyKind::Text).unwrap();
        other.setup_message().unwrap();
        assert!(other.respond(&m2).is_err());
        let m3 = s.respond(&m2).unwrap();
        assert!(s.respond(&m2).is_err(), "a second request is refused");
        let mut bad = m3.clone();
        bad.push(0);
        assert!(c.correction(&bad).is_err());
        assert!(c.correction(&m1).is_err(), "a setup is not a vole message");
        assert!(c.request(&m3).is_err(), "the request step is over");
        let m4 = c.correction(&m3).unwrap();
        assert!(
            c.correction(&m3).is_err(),
            "a second vole message is refused"
        );
        let mut huge = m4.clone();
        huge.truncate(HEADER_LEN + 10);
        assert!(s.respond(&huge).is_err());
        let m5 = s.respond(&m4).unwrap();
        let mut short = m5.clone();
        short.pop();
        assert!(c.finish(&m1, &short).is_err());
        assert_eq!(c.finish(&m1, &m5).unwrap(), (50..100).collect::<Vec<i64>>());
        assert!(c.finish(&m1, &m5).is_err(), "finish runs once");
    }

    #[test]
    fn tag_length_covers_sigma_and_both_sizes() {
        assert_eq!(tag_len(0, 0), 6); // 40 + 1 + 1 bits
        assert_eq!(tag_len(1 << 20, 1 << 20), 10);
        assert_eq!(tag_len(1 << 32, 1 << 32), 13);
    }

    #[test]
    fn an_announced_size_above_the_bound_is_refused_before_any_work() {
        let (yo, yd) = column(&keys(0..10));
        let (xo, xd) = column(&keys(0..10));
        let mut s = Server::new(
            StrColumn {
                offsets: &yo,
                data: &yd,
            },
            KeyKind::Text,
        )
        .unwrap();
        let mut c = Client::new(
            StrColumn {
                offsets: &xo,
                data: &xd,
            },
            KeyKind::Text,
        )
        .unwrap();
        let m1 = s.setup_message().unwrap();
        let mut m2 = c.request(&m1).unwrap();
        m2[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&(MAX_SET + 1).to_le_bytes());
        assert!(s.respond(&m2).is_err());
        let mut big = m1.clone();
        big[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let mut c2 = Client::new(
            StrColumn {
                offsets: &xo,
                data: &xd,
            },
            KeyKind::Text,
        )
        .unwrap();
        assert!(c2.request(&big).is_err());
    }

    #[test]
    fn message_sizes_stay_within_the_budget() {
        // The fixed cost (base OTs, about 57k correlated OTs for 400 noise positions, about
        // 0.9 MB) is still large at 2^15; the per-element part is the OKVS (1.11 x 16 B)
        // and one tag (7-10 B).
        let n = 1 << 15;
        let (_, msgs) = run(&keys(0..n), &keys(n / 2..n + n / 2));
        let total: usize = msgs.iter().map(Vec::len).sum();
        assert!(total < 60 * n, "{} bytes per element", total / n);
        let per_element = msgs[3].len() + msgs[4].len();
        assert!(
            per_element < 28 * n,
            "{} bytes per element",
            per_element / n
        );
    }
}
