//! Streaming (bucketed) intersection for sets larger than memory.
//!
//! The OPRF is the in-memory protocol's (`F_k(x) = H2(x, H1(x)^k)`, one sender key `k` and
//! one receiver blind `c` per session); only the order of the work changes, so the result is
//! the in-memory intersection's. With `B` buckets (a power of two):
//!
//! 1. **Sender table, by tag prefix.** The sender computes the 12-byte tag of every key as
//!    its record batches arrive ([`StreamSender::tags`]), spills each tag to the bucket of
//!    its first bits, and sends bucket after bucket ([`StreamSender::setup_part`], sorted,
//!    duplicates removed). Concatenated, the parts are exactly the in-memory setup's sorted
//!    tag list: the bucketing happens on pseudo-random OPRF outputs the receiver gets anyway,
//!    so it reveals nothing more.
//! 2. **Receiver keys, by a secret hash.** The receiver spills each canonical key to the
//!    bucket given by a keyed hash under a key it never sends ([`StreamReceiver::partition`]).
//!    Equal keys land in one bucket, so de-duplicating a bucket de-duplicates the set, and
//!    the sender, who sees one request per bucket, learns the receiver's number of distinct
//!    keys (as in memory) split at random into `B` parts: nothing about which keys.
//! 3. **Evaluation, bucket by bucket.** One request per bucket ([`StreamReceiver::request_part`],
//!    blinded points), one response ([`StreamSender::respond_part`]); the receiver unblinds
//!    and gets a tag per row ([`StreamReceiver::receive_part`]), which it spills by tag prefix.
//! 4. **Look-up, bucket by bucket.** Setup part `t` against the receiver's tags of prefix `t`
//!    ([`StreamReceiver::match_part`]).
//!
//! Resident memory is one record batch or one bucket at a time (about `n / B` rows), plus
//! the matched row numbers. Every message carries the session ids, the bucket and `B`;
//! parts out of order, repeated or from another session are refused.

use rayon::prelude::*;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use super::group::{decode_mul_compress, hash_mul_compress, SecretScalar, BATCH};
use super::hash::{canonical_key, oprf_output, KeyKind};
use super::protocol::{distinct, session_id, tag_of, Options, StrColumn};
use super::table::TagTable;
use super::wire::{Header, Kind, Mode, Reader};
use super::TAG_LEN;
use crate::error::{CoreError, CoreResult};

/// DST of the receiver's secret bucket hash.
const DST_BUCKET: &[u8] = b"ZONE-OPT-PSI-V1-STREAM-BUCKET";
/// The largest bucket count, `2^16`.
pub const MAX_BUCKETS: u32 = 1 << 16;
/// The bucket of a tag: its first `log2(buckets)` bits.
pub fn tag_bucket(tag: &[u8], buckets: u32) -> u32 {
    let bits = buckets.trailing_zeros();
    if bits == 0 {
        return 0;
    }
    ((u32::from(tag[0]) << 8) | u32::from(tag[1])) >> (16 - bits)
}

fn check_buckets(buckets: u32) -> CoreResult<()> {
    if buckets == 0 || !buckets.is_power_of_two() || buckets > MAX_BUCKETS {
        return Err(CoreError::invalid(
            "buckets",
            None,
            format!("must be a power of two from 1 to {MAX_BUCKETS}, got {buckets}"),
        ));
    }
    Ok(())
}

fn check_options(options: &Options) -> CoreResult<()> {
    if options.mode != Mode::Intersection || options.verifiable {
        return Err(CoreError::invalid(
            "mode",
            None,
            "streaming supports the (non-verifiable) intersection mode",
        ));
    }
    Ok(())
}

/// Canonical keys of one record batch; errors name the row in the whole input.
fn canonical_batch(
    keys: StrColumn<'_>,
    kind: KeyKind,
    first_row: usize,
) -> CoreResult<Vec<Vec<u8>>> {
    keys.check("keys")?;
    (0..keys.len())
        .into_par_iter()
        .with_min_len(BATCH)
        .map(|i| canonical_key(keys.get(i), kind, "keys", first_row + i))
        .collect()
}

/// Read a part's `(bucket, buckets)` and check them against what this party expects.
fn part_of(r: &mut Reader<'_>, buckets: u32, what: &str) -> CoreResult<u32> {
    let part = r.u32("bucket")?;
    let total = r.u32("bucket count")?;
    if total != buckets {
        return Err(CoreError::invalid(
            what,
            None,
            format!("made for {total} buckets, this party uses {buckets}"),
        ));
    }
    if part >= buckets {
        return Err(CoreError::invalid(
            what,
            None,
            format!("bucket {part} out of range"),
        ));
    }
    Ok(part)
}

/// The sender of a streaming session.
pub struct StreamSender {
    options: Options,
    buckets: u32,
    session: [u8; 16],
    key: SecretScalar,
    receiver_session: Option<[u8; 16]>,
    answered: Vec<bool>,
    receiver_len: usize,
}

impl StreamSender {
    pub fn new(options: Options, buckets: u32) -> CoreResult<Self> {
        check_options(&options)?;
        check_buckets(buckets)?;
        Ok(Self {
            options,
            buckets,
            session: session_id()?,
            key: SecretScalar::random()?,
            receiver_session: None,
            answered: vec![false; buckets as usize],
            receiver_len: 0,
        })
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    /// The receiver's number of distinct keys, summed over the answered requests.
    pub fn receiver_len(&self) -> usize {
        self.receiver_len
    }

    /// The 12-byte tag of every key of a record batch (`n * 12` bytes), in row order.
    /// `first_row` numbers the rows in errors. O(n) group operations, in parallel.
    pub fn tags(&self, keys: StrColumn<'_>, first_row: usize) -> CoreResult<Vec<u8>> {
        let canon = canonical_batch(keys, self.options.key_kind, first_row)?;
        let u = hash_mul_compress(&canon, &self.key.0)?;
        let tags: Vec<[u8; TAG_LEN]> = canon
            .par_iter()
            .zip(u.par_iter())
            .with_min_len(BATCH)
            .map(|(k, p)| tag_of(&oprf_output(k, p)))
            .collect();
        Ok(tags.concat())
    }

    /// Setup part `part` from the tags of that bucket (any order, duplicates allowed):
    /// sorted and de-duplicated. Every tag must belong to the bucket.
    pub fn setup_part(&self, part: u32, tags: &[u8]) -> CoreResult<Vec<u8>> {
        if part >= self.buckets {
            return Err(CoreError::invalid(
                "bucket",
                None,
                format!("{part} is not below {}", self.buckets),
            ));
        }
        if !tags.len().is_multiple_of(TAG_LEN) {
            return Err(CoreError::invalid(
                "tags",
                None,
                format!("length is not a multiple of {TAG_LEN}"),
            ));
        }
        let mut sorted: Vec<[u8; TAG_LEN]> = tags
            .chunks_exact(TAG_LEN)
            .map(|c| {
                let mut t = [0_u8; TAG_LEN];
                t.copy_from_slice(c);
                t
            })
            .collect();
        if let Some(row) = sorted
            .iter()
            .position(|t| tag_bucket(t, self.buckets) != part)
        {
            return Err(CoreError::invalid(
                "tags",
                Some(row),
                format!("the tag does not belong to bucket {part}"),
            ));
        }
        sorted.par_sort_unstable();
        sorted.dedup();
        let mut out = Vec::with_capacity(super::wire::HEADER_LEN + 16 + TAG_LEN * sorted.len());
        Header {
            kind: Kind::SetupPart,
            mode: self.options.mode,
            flags: self.options.flags(),
            sender_session: self.session,
            receiver_session: [0; 16],
        }
        .write(&mut out);
        out.extend_from_slice(&part.to_le_bytes());
        out.extend_from_slice(&self.buckets.to_le_bytes());
        out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
        for t in &sorted {
            out.extend_from_slice(t);
        }
        Ok(out)
    }

    /// Check a request (header, session, bucket, not answered yet): `(receiver session,
    /// bucket, blinded points)`.
    fn read_request<'a>(&self, request: &'a [u8]) -> CoreResult<([u8; 16], u32, &'a [u8])> {
        let (header, mut r) = Reader::open(request, Kind::RequestPart)?;
        self.options.check(&header, "request")?;
        if self
            .receiver_session
            .is_some_and(|s| s != header.receiver_session)
        {
            return Err(CoreError::invalid(
                "request",
                None,
                "this session serves another receiver session (wrong session id)",
            ));
        }
        let part = part_of(&mut r, self.buckets, "request")?;
        if self.answered[part as usize] {
            return Err(CoreError::invalid(
                "request",
                None,
                format!("bucket {part} was already answered; a replayed request is refused"),
            ));
        }
        let n = r.count(32, "blinded points")?;
        let data = r.bytes(32 * n, "blinded points")?;
        r.finish()?;
        Ok((header.receiver_session, part, data))
    }

    fn record(&mut self, receiver_session: [u8; 16], part: u32, n: usize) {
        self.receiver_session = Some(receiver_session);
        self.answered[part as usize] = true;
        self.receiver_len += n;
    }

    /// Answer one bucket's request. The first request binds the session to its receiver;
    /// another receiver's request, or a second request for a bucket, is refused.
    pub fn respond_part(&mut self, request: &[u8]) -> CoreResult<Vec<u8>> {
        let (receiver_session, part, data) = self.read_request(request)?;
        let n = data.len() / 32;
        let evaluated = decode_mul_compress(data, &self.key.0, "request")?;
        let mut out = Vec::with_capacity(super::wire::HEADER_LEN + 16 + 32 * n);
        Header {
            kind: Kind::ResponsePart,
            mode: self.options.mode,
            flags: self.options.flags(),
            sender_session: self.session,
            receiver_session,
        }
        .write(&mut out);
        out.extend_from_slice(&part.to_le_bytes());
        out.extend_from_slice(&self.buckets.to_le_bytes());
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for e in &evaluated {
            out.extend_from_slice(e.as_bytes());
        }
        self.record(receiver_session, part, n);
        Ok(out)
    }
}

struct Pending {
    part: u32,
    keys: Vec<Vec<u8>>,
    row_to: Vec<u32>,
}

/// The receiver of a streaming session.
pub struct StreamReceiver {
    options: Options,
    buckets: u32,
    session: [u8; 16],
    blind: SecretScalar,
    bucket_key: [u8; 32],
    pending: Option<Pending>,
    requested: Vec<bool>,
    received: usize,
    sender_session: Option<[u8; 16]>,
    next_setup: u32,
}

impl Drop for StreamReceiver {
    fn drop(&mut self) {
        self.bucket_key.zeroize();
    }
}

impl StreamReceiver {
    pub fn new(options: Options, buckets: u32) -> CoreResult<Self> {
        check_options(&options)?;
        check_buckets(buckets)?;
        let mut bucket_key = [0_u8; 32];
        getrandom::fill(&mut bucket_key)
            .map_err(|e| CoreError::Internal(format!("no OS randomness: {e}")))?;
        Ok(Self {
            options,
            buckets,
            session: session_id()?,
            blind: SecretScalar::random()?,
            bucket_key,
            pending: None,
            requested: vec![false; buckets as usize],
            received: 0,
            sender_session: None,
            next_setup: 0,
        })
    }

    pub fn session(&self) -> [u8; 16] {
        self.session
    }

    /// Canonicalise a record batch and give each row its bucket under this session's secret
    /// bucket hash: `(offsets, data, bucket)` with the canonical keys as Arrow buffers.
    pub fn partition(
        &self,
        keys: StrColumn<'_>,
        first_row: usize,
    ) -> CoreResult<(Vec<i64>, Vec<u8>, Vec<u32>)> {
        let canon = canonical_batch(keys, self.options.key_kind, first_row)?;
        let bits = self.buckets.trailing_zeros();
        let key = &self.bucket_key;
        let bucket: Vec<u32> = canon
            .par_iter()
            .with_min_len(BATCH)
            .map(|k| {
                if bits == 0 {
                    return 0;
                }
                let mut h = Sha512::new();
                h.update(DST_BUCKET);
                h.update(key);
                h.update(k);
                let d = h.finalize();
                u32::from_be_bytes([d[0], d[1], d[2], d[3]]) >> (32 - bits)
            })
            .collect();
        let mut offsets = Vec::with_capacity(canon.len() + 1);
        offsets.push(0_i64);
        let mut data = Vec::with_capacity(canon.iter().map(Vec::len).sum());
        for k in &canon {
            data.extend_from_slice(k);
            offsets.push(data.len() as i64);
        }
        Ok((offsets, data, bucket))
    }

    /// The request of bucket `part` over its keys (as spilled by [`Self::partition`]; they are
    /// canonicalised again, which leaves canonical keys unchanged). One bucket at a time: its
    /// response must be received before the next request.
    pub fn request_part(&mut self, part: u32, keys: StrColumn<'_>) -> CoreResult<Vec<u8>> {
        if self.pending.is_some() {
            return Err(CoreError::invalid(
                "request",
                None,
                "receive the previous bucket's response first",
            ));
        }
        if part >= self.buckets || self.requested[part as usize] {
            return Err(CoreError::invalid(
                "bucket",
                None,
                format!("{part} is out of range or was already requested"),
            ));
        }
        let canon = canonical_batch(keys, self.options.key_kind, 0)?;
        let (keys, row_to) = distinct(canon);
        let blinded = hash_mul_compress(&keys, &self.blind.0)?;
        let mut out = Vec::with_capacity(super::wire::HEADER_LEN + 16 + 32 * blinded.len());
        Header {
            kind: Kind::RequestPart,
            mode: self.options.mode,
            flags: self.options.flags(),
            sender_session: [0; 16],
            receiver_session: self.session,
        }
        .write(&mut out);
        out.extend_from_slice(&part.to_le_bytes());
        out.extend_from_slice(&self.buckets.to_le_bytes());
        out.extend_from_slice(&(blinded.len() as u64).to_le_bytes());
        for b in &blinded {
            out.extend_from_slice(b.as_bytes());
        }
        self.requested[part as usize] = true;
        self.pending = Some(Pending { part, keys, row_to });
        Ok(out)
    }

    /// Unblind the pending bucket's response: one 12-byte tag per key given to
    /// [`Self::request_part`], in that order.
    pub fn receive_part(&mut self, response: &[u8]) -> CoreResult<Vec<u8>> {
        let Some(pending) = &self.pending else {
            return Err(CoreError::invalid(
                "response",
                None,
                "no request is pending (replayed or out of order)",
            ));
        };
        let (sender_session, per_row) = self.unblind(pending, response)?;
        self.sender_session = Some(sender_session);
        self.pending = None;
        self.received += 1;
        Ok(per_row)
    }

    fn unblind(&self, pending: &Pending, response: &[u8]) -> CoreResult<([u8; 16], Vec<u8>)> {
        let (header, mut r) = Reader::open(response, Kind::ResponsePart)?;
        self.options.check(&header, "response")?;
        if header.receiver_session != self.session {
            return Err(CoreError::invalid(
                "response",
                None,
                "the response answers another receiver session (wrong session id or replay)",
            ));
        }
        if self
            .sender_session
            .is_some_and(|s| s != header.sender_session)
        {
            return Err(CoreError::invalid(
                "response",
                None,
                "the responses come from different sender sessions (wrong session id)",
            ));
        }
        let part = part_of(&mut r, self.buckets, "response")?;
        if part != pending.part {
            return Err(CoreError::invalid(
                "response",
                None,
                format!("bucket {part} was not the pending request (replayed or out of order)"),
            ));
        }
        let n = r.count(32, "evaluations")?;
        if n != pending.keys.len() {
            return Err(CoreError::invalid(
                "response",
                None,
                format!("{n} evaluations for {} requested keys", pending.keys.len()),
            ));
        }
        let data = r.bytes(32 * n, "evaluations")?;
        r.finish()?;
        let mut unblind = SecretScalar(self.blind.0.invert());
        let u = decode_mul_compress(data, &unblind.0, "response")?;
        unblind.0.zeroize();
        let tags: Vec<[u8; TAG_LEN]> = pending
            .keys
            .par_iter()
            .zip(u.par_iter())
            .with_min_len(BATCH)
            .map(|(k, p)| tag_of(&oprf_output(k, p)))
            .collect();
        let per_row: Vec<u8> = pending
            .row_to
            .iter()
            .flat_map(|&d| tags[d as usize])
            .collect();
        Ok((header.sender_session, per_row))
    }

    /// Look the receiver's tags of bucket `t` (`tags`, 12 bytes per row, with their row
    /// numbers `rows`) up in setup part `t`. Parts must come in order, after every bucket's
    /// response; returns the matched rows in the order given.
    pub fn match_part(&mut self, setup: &[u8], tags: &[u8], rows: &[i64]) -> CoreResult<Vec<i64>> {
        if self.received != self.buckets as usize {
            return Err(CoreError::invalid(
                "setup",
                None,
                format!(
                    "{} of {} buckets were exchanged; finish the requests first",
                    self.received, self.buckets
                ),
            ));
        }
        let matched =
            self.match_checked(self.next_setup, self.sender_session, setup, tags, rows)?;
        self.next_setup += 1;
        Ok(matched)
    }

    fn match_checked(
        &self,
        expected: u32,
        sender_session: Option<[u8; 16]>,
        setup: &[u8],
        tags: &[u8],
        rows: &[i64],
    ) -> CoreResult<Vec<i64>> {
        let (header, mut r) = Reader::open(setup, Kind::SetupPart)?;
        self.options.check(&header, "setup")?;
        if Some(header.sender_session) != sender_session {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the setup and the responses come from different sender sessions (wrong session id)",
            ));
        }
        let part = part_of(&mut r, self.buckets, "setup")?;
        if part != expected {
            return Err(CoreError::invalid(
                "setup",
                None,
                format!(
                    "part {part} where part {expected} was expected (parts come once, in order)"
                ),
            ));
        }
        let n = r.count(TAG_LEN, "sender tags")?;
        let table = r.bytes(TAG_LEN * n, "sender tags")?;
        r.finish()?;
        let mut entries = table.chunks_exact(TAG_LEN);
        if entries
            .clone()
            .zip(entries.clone().skip(1))
            .any(|(a, b)| a >= b)
        {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the sender's tags are not strictly ascending",
            ));
        }
        if entries.any(|t| tag_bucket(t, self.buckets) != part) {
            return Err(CoreError::invalid(
                "setup",
                None,
                format!("a sender tag does not belong to bucket {part}"),
            ));
        }
        let sender = TagTable::new(table, TAG_LEN, self.buckets.trailing_zeros(), "setup")?;
        if tags.len() != TAG_LEN * rows.len() {
            return Err(CoreError::invalid(
                "tags",
                None,
                format!("{} bytes for {} rows", tags.len(), rows.len()),
            ));
        }
        let matched = tags
            .par_chunks_exact(TAG_LEN)
            .zip(rows.par_iter())
            .with_min_len(BATCH)
            .enumerate()
            .map(|(i, (t, &row))| {
                if tag_bucket(t, self.buckets) != part {
                    return Err(CoreError::invalid(
                        "tags",
                        Some(i),
                        format!("does not belong to bucket {part}"),
                    ));
                }
                let mut tag = [0_u8; TAG_LEN];
                tag.copy_from_slice(t);
                Ok(sender.find(&tag).map(|_| row))
            })
            .collect::<CoreResult<Vec<Option<i64>>>>()?;
        Ok(matched.into_iter().flatten().collect())
    }

    /// Whether every setup part has been matched.
    pub fn is_complete(&self) -> bool {
        self.next_setup == self.buckets
    }
}

mod shard;
pub use shard::{LABEL_RECEIVER, LABEL_SENDER};
#[cfg(test)]
mod tests;
