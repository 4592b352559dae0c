//! The sender of the VOLE PSI: encodes its set as an OKVS, answers the receiver's VOLE.

use rayon::prelude::*;

use super::*;
use crate::error::{CoreError, CoreResult};
use crate::join::protocol::StrColumn;
use crate::join::vole::field::mul;
use crate::join::vole::okvs::{self, Hasher};
use crate::join::vole::ot::{iknp_send, random_u128, BaseReceiver, BASE_OTS};
use crate::join::vole::svole::{self, Params};

/// The sender: holds `delta`, learns only the receiver's number of distinct keys.
pub struct Sender {
    kind: KeyKind,
    session: [u8; 16],
    receiver_session: [u8; 16],
    keys: Vec<u128>,
    delta: u128,
    base: Option<BaseReceiver>,
    setup: Option<Vec<u8>>,
    b: Vec<u128>,
    receiver_len: usize,
    part: Option<Part>,
    step: Step,
}

impl Sender {
    /// A sender over `keys` (one per row; duplicates allowed). O(n).
    pub fn new(keys: StrColumn<'_>, kind: KeyKind) -> CoreResult<Self> {
        let mut keys = hashed_keys(keys, kind, 0)?;
        keys.par_sort_unstable();
        keys.dedup();
        Self::over(keys, kind, None)
    }

    /// The sender of one bucket of a streaming session, over the bucket's key hashes
    /// (`hash_key` of canonical keys; duplicates allowed), padded with random values to
    /// `pad_to` keys so that the receiver learns the padded size only. O(n log n).
    pub fn for_part(
        mut hashes: Vec<u128>,
        kind: KeyKind,
        part: Part,
        pad_to: usize,
    ) -> CoreResult<Self> {
        hashes.par_sort_unstable();
        hashes.dedup();
        check_fits(hashes.len(), pad_to, &part)?;
        announced(pad_to as u64, "buckets")?;
        pad(&mut hashes, pad_to)?;
        Self::over(hashes, kind, Some(part))
    }

    fn over(keys: Vec<u128>, kind: KeyKind, part: Option<Part>) -> CoreResult<Self> {
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
            part,
            step: Step::New,
        })
    }

    /// The response was sent: the session is over.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    fn expect<'e>(&'e self, kind: Kind, receiver: Option<&'e [u8; 16]>) -> Expect<'e> {
        Expect {
            kind,
            flags: flags(self.kind),
            sender: Some(&self.session),
            receiver,
            part: self.part.as_ref(),
        }
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
        let mut out = Vec::with_capacity(HEADER_LEN + PART_LEN + 8 + msg.len());
        header(
            &mut out,
            Kind::Setup,
            flags(self.kind),
            (&self.session, &[0; 16]),
            self.part.as_ref(),
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
        let (mut r, _, receiver) = Reader::open(msg, self.expect(Kind::Request, None))?;
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
        let mut out = Vec::with_capacity(HEADER_LEN + PART_LEN + body.len());
        header(
            &mut out,
            Kind::Vole,
            flags(self.kind),
            (&self.session, &receiver),
            self.part.as_ref(),
        );
        out.extend_from_slice(&body);
        self.step = Step::VoleSent;
        Ok(out)
    }

    fn tags(&mut self, msg: &[u8]) -> CoreResult<Vec<u8>> {
        let (mut r, _, _) = Reader::open(
            msg,
            self.expect(Kind::Correction, Some(&self.receiver_session)),
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
        let len = tag_len_bits(
            self.receiver_len,
            self.keys.len(),
            Part::tag_bits(self.part.as_ref()),
        );
        let mut tags = okvs::decode_many(&k, &rows);
        tags.par_iter_mut()
            .zip(values.par_iter())
            .for_each(|(t, &v)| *t ^= mul(delta, v));
        tags_in_place(&mut tags, len);
        tags.par_sort_unstable();
        let mut out = Vec::with_capacity(HEADER_LEN + PART_LEN + 9 + tags.len() * len);
        header(
            &mut out,
            Kind::Response,
            flags(self.kind),
            (&self.session, &self.receiver_session),
            self.part.as_ref(),
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
