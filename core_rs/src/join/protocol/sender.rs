//! The sender: holds the set (and optional payload), answers one request per session.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use rayon::prelude::*;
use std::collections::HashSet;

use chacha20poly1305::aead::{Aead, Payload as AeadPayload};
use chacha20poly1305::Nonce;

use super::*;
use crate::error::{CoreError, CoreResult};
use crate::join::elgamal::{self, Ciphertext};
use crate::join::group::{
    decode_mul_compress, decode_points, hash_mul_compress_dst, mul_compress, random_permutation,
    SecretScalar, BATCH,
};
use crate::join::hash::Suite;
use crate::join::wire::{Header, Kind, Mode, Reader};
use crate::join::TAG_LEN;

/// The sender.
pub struct Sender {
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

impl Sender {
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
        let pk = crate::join::group::decode_point(pk_bytes, "public key", 0)?;
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
