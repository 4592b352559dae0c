//! The receiver of the VOLE PSI: learns which of its keys the sender holds.

use rayon::prelude::*;
use std::collections::HashMap;

use super::*;
use crate::error::{CoreError, CoreResult};
use crate::join::protocol::StrColumn;
use crate::join::vole::aeshash::Aes;
use crate::join::vole::okvs::{self, Hasher};
use crate::join::vole::ot::{base_send, iknp_receive, random_u128, BASE_OTS, RECEIVER_MSG_LEN};
use crate::join::vole::svole::{self, Params, ReceiverChoices};

/// The receiver: learns which of its rows have a key in the sender's set, and `|Y|`.
pub struct Receiver {
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
    part: Option<Part>,
    step: Step,
}

impl Receiver {
    /// A receiver over `keys` (one per row; duplicates allowed). O(n).
    pub fn new(keys: StrColumn<'_>, kind: KeyKind) -> CoreResult<Self> {
        let hashed = hashed_keys(keys, kind, 0)?;
        Self::over(&hashed, kind, None)
    }

    /// The receiver of one bucket of a streaming session, over the bucket's key hashes
    /// (one per row; duplicates allowed), padded with random values to `pad_to` distinct
    /// keys so that the sender learns the padded size only. [`Receiver::finish`] returns
    /// positions in `hashes`.
    pub fn for_part(hashes: &[u128], kind: KeyKind, part: Part, pad_to: usize) -> CoreResult<Self> {
        let mut receiver = Self::over(hashes, kind, Some(part))?;
        check_fits(receiver.keys.len(), pad_to, &part)?;
        announced(pad_to as u64, "buckets")?;
        pad(&mut receiver.keys, pad_to)?;
        Ok(receiver)
    }

    fn over(hashed: &[u128], kind: KeyKind, part: Option<Part>) -> CoreResult<Self> {
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
            part,
            step: Step::New,
        })
    }

    fn expect<'e>(
        &'e self,
        kind: Kind,
        sender: Option<&'e [u8; 16]>,
        receiver: Option<&'e [u8; 16]>,
    ) -> Expect<'e> {
        Expect {
            kind,
            flags: flags(self.kind),
            sender,
            receiver,
            part: self.part.as_ref(),
        }
    }

    fn tag_len(&self) -> usize {
        tag_len_bits(
            self.keys.len(),
            self.sender_len,
            Part::tag_bits(self.part.as_ref()),
        )
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
        let (mut r, sender, _) = Reader::open(msg, self.expect(Kind::Setup, None, None))?;
        let n_s = announced(r.u64("sender size")?, "setup")?;
        let base_msg = r.bytes(BASE_OTS * RECEIVER_MSG_LEN, "base-OT message")?;
        r.finish()?;
        let (point, pairs) = base_send(base_msg, ot_context(&sender))?;
        let params = Params::new(okvs::columns(self.keys.len()))?;
        let choices = svole::receiver_choices(&params)?;
        let (u, t) = iknp_receive(&pairs, &choices.bits);
        let mut out = Vec::with_capacity(HEADER_LEN + PART_LEN + 40 + u.len() * 16);
        header(
            &mut out,
            Kind::Request,
            flags(self.kind),
            (&sender, &self.session),
            self.part.as_ref(),
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
            self.expect(Kind::Vole, Some(&self.sender_session), Some(&self.session)),
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
        let len = self.tag_len();
        self.own_tags = okvs::decode_many(&c, &rows);
        tags_in_place(&mut self.own_tags, len);
        let mut out = Vec::with_capacity(HEADER_LEN + PART_LEN + 16 * (m + 1));
        header(
            &mut out,
            Kind::Correction,
            flags(self.kind),
            (&self.sender_session, &self.session),
            self.part.as_ref(),
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
        let (_, s, _) = Reader::open(setup, self.expect(Kind::Setup, None, None))?;
        if s != self.sender_session {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the message belongs to another session",
            ));
        }
        let (mut r, _, _) = Reader::open(
            response,
            self.expect(
                Kind::Response,
                Some(&self.sender_session),
                Some(&self.session),
            ),
        )?;
        let len = r.bytes(1, "tag length")?[0] as usize;
        let want = self.tag_len();
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
