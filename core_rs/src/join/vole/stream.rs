//! Streaming (bucketed) VOLE PSI for sets larger than memory: one RR22 session per bucket.
//!
//! Both parties hash each canonical key to 128 bits (`hash_key`, as in memory) and put it
//! in the bucket named by the first `log2(buckets)` bits of `tccr(hash, BUCKET_TWEAK)`
//! ([`bucket_of`]), a public function: equal keys of the two parties share a bucket, and
//! the bucket of `x` is compared with the bucket of `y` only. Then, bucket after bucket in
//! order, the parties run a whole in-memory session ([`Sender::for_part`],
//! [`Receiver::for_part`]: setup, request, vole, correction, response) over that bucket's
//! keys, so at most one bucket's VOLE is resident on either side.
//!
//! **Padding.** A public bucket function makes per-bucket sizes informative (a party that
//! knows all but one of the other's keys would learn the bucket of the last from the
//! counts), so every bucket of a party announces the same size: [`bucket_bound`] of its
//! number of distinct keys `n`, a Bernstein tail bound that a bucket of a uniformly hashed
//! set exceeds with probability below `2^-40` (union over the buckets); the bucket is
//! filled up with uniform random 128-bit values (dummy keys, whose tags are as pseudo-random
//! as a non-matching key's). Each side therefore learns only the other's `bucket_bound`,
//! a function of its distinct count (less than the in-memory protocol's exact count). A
//! bucket over its bound is refused (an error naming `buckets`), never sent unpadded.
//!
//! **Why one session per bucket, not one VOLE across buckets.** The silent VOLE's LPN
//! compression reads random positions of the whole noise vector, so one VOLE spanning the
//! stream would be resident in full; independent sessions per bucket keep the bound, reuse
//! the in-memory protocol unchanged (its proofs, checks and fuzzing), and cost a fixed
//! ~1 MB of messages and ~57k correlated OTs per bucket, amortised by buckets of `2^16`
//! keys or more (sharing the 128 base OTs across buckets would save under 2 %).
//!
//! **Binding.** Every message of a bucket carries a part header (the sender's stream id,
//! the bucket, the bucket count) besides the bucket session's ids: parts of another bucket,
//! another stream or a different bucket count are refused. Tags get `log2(buckets)` more
//! bits, so a false match anywhere in the stream stays below `2^-40`.

use rayon::prelude::*;

use super::aeshash::tccr_many_same;
use super::ot::random_u128;
use super::protocol::{hashed_keys, message_kind, Kind, Part, Receiver, Sender, SIGMA};
use crate::error::{CoreError, CoreResult};
use crate::join::hash::KeyKind;
use crate::join::protocol::StrColumn;
use crate::join::stream::MAX_BUCKETS;

/// Tweak of the public bucket hash ("zone-opt-vole-bk").
const BUCKET_TWEAK: u128 = 0x7a6f_6e65_2d6f_7074_2d76_6f6c_652d_626b;

/// The bucket of each key hash: the first `log2(buckets)` bits of `tccr(hash, tweak)`.
pub fn buckets_of(hashes: &[u128], buckets: u32) -> Vec<u32> {
    let bits = buckets.trailing_zeros();
    if bits == 0 {
        return vec![0; hashes.len()];
    }
    let mut h = hashes.to_vec();
    h.par_chunks_mut(4096)
        .for_each(|c| tccr_many_same(c, BUCKET_TWEAK));
    h.iter().map(|&x| (x >> (128 - bits)) as u32).collect()
}

/// The padded size of every bucket of a party with `n` distinct keys in `buckets`
/// buckets: `mu + delta` with `mu = n / buckets` and `delta = L/3 + sqrt(L^2/9 + 2 mu L)`,
/// `L = (40 + log2 buckets) ln 2`, so that by Bernstein's inequality a bucket exceeds it
/// with probability below `2^-40 / buckets`; never more than `n`, and `n` for one bucket.
pub fn bucket_bound(n: u64, buckets: u32) -> u64 {
    if buckets <= 1 || n == 0 {
        return n;
    }
    let mu = n as f64 / f64::from(buckets);
    let l = f64::from(SIGMA + buckets.trailing_zeros()) * std::f64::consts::LN_2;
    let delta = l / 3.0 + (l * l / 9.0 + 2.0 * mu * l).sqrt();
    ((mu + delta).floor() as u64 + 1).min(n)
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

/// Key hashes of one record batch (errors name the row in the whole input) and their
/// buckets.
fn hash_batch(
    keys: StrColumn<'_>,
    kind: KeyKind,
    first_row: usize,
    buckets: u32,
) -> CoreResult<(Vec<u128>, Vec<u32>)> {
    let hashes = hashed_keys(keys, kind, first_row)?;
    let bucket = buckets_of(&hashes, buckets);
    Ok((hashes, bucket))
}

/// The padded bucket size, once the party's distinct count is known.
fn bound_of(bound: Option<usize>) -> CoreResult<usize> {
    bound.ok_or_else(|| {
        CoreError::invalid(
            "begin",
            None,
            "the party's number of distinct keys is needed first (begin)",
        )
    })
}

fn begin_bound(bound: &mut Option<usize>, distinct: u64, buckets: u32) -> CoreResult<()> {
    if bound.is_some() {
        return Err(CoreError::invalid("begin", None, "the stream has begun"));
    }
    let b = bucket_bound(distinct, buckets);
    *bound = Some(usize::try_from(b).map_err(|_| {
        CoreError::invalid("begin", None, format!("{distinct} keys do not fit memory"))
    })?);
    Ok(())
}

/// The sender of a streaming VOLE session: one bucket's [`Sender`] at a time.
pub struct StreamSender {
    kind: KeyKind,
    buckets: u32,
    stream: [u8; 16],
    bound: Option<usize>,
    next: u32,
    current: Option<Sender>,
    receiver_len: usize,
}

impl StreamSender {
    pub fn new(kind: KeyKind, buckets: u32) -> CoreResult<Self> {
        check_buckets(buckets)?;
        Ok(Self {
            kind,
            buckets,
            stream: random_u128()?.to_le_bytes(),
            bound: None,
            next: 0,
            current: None,
            receiver_len: 0,
        })
    }

    /// `(hashes, buckets)` of one record batch's keys (row `first_row` onwards).
    pub fn hash_batch(
        &self,
        keys: StrColumn<'_>,
        first_row: usize,
    ) -> CoreResult<(Vec<u128>, Vec<u32>)> {
        hash_batch(keys, self.kind, first_row, self.buckets)
    }

    /// Fix the padded bucket size from this side's number of distinct keys (once).
    pub fn begin(&mut self, distinct: u64) -> CoreResult<()> {
        begin_bound(&mut self.bound, distinct, self.buckets)
    }

    /// The padded size of every bucket (after [`StreamSender::begin`]).
    pub fn padded_len(&self) -> usize {
        self.bound.unwrap_or(0)
    }

    /// The receiver's padded sizes summed over the buckets answered so far.
    pub fn receiver_len(&self) -> usize {
        self.receiver_len
    }

    /// Setup message of bucket `part` over its key hashes: buckets in order, each once its
    /// predecessor's response was sent (one bucket resident).
    pub fn setup_part(&mut self, part: u32, hashes: Vec<u128>) -> CoreResult<Vec<u8>> {
        let bound = bound_of(self.bound)?;
        if part != self.next || part >= self.buckets {
            return Err(CoreError::invalid(
                "setup_part",
                None,
                format!(
                    "bucket {part} out of order (next is {} of {})",
                    self.next, self.buckets
                ),
            ));
        }
        if self.current.is_some() {
            return Err(CoreError::invalid(
                "setup_part",
                None,
                format!(
                    "bucket {} is not answered yet: the sender holds one bucket at a time",
                    part.saturating_sub(1)
                ),
            ));
        }
        let p = Part {
            stream: self.stream,
            bucket: part,
            buckets: self.buckets,
        };
        let mut sender = Sender::for_part(hashes, self.kind, p, bound)?;
        let setup = sender.setup_message()?;
        self.current = Some(sender);
        self.next += 1;
        Ok(setup)
    }

    /// Answer the open bucket's request (with its VOLE message) or correction (with its
    /// tags, which closes the bucket).
    pub fn respond_part(&mut self, message: &[u8]) -> CoreResult<Vec<u8>> {
        let Some(sender) = self.current.as_mut() else {
            let kind = message_kind(message)?;
            return Err(CoreError::invalid(
                match kind {
                    Kind::Correction => "correction",
                    _ => "request",
                },
                None,
                "no bucket is open (its setup part comes first)",
            ));
        };
        let out = sender.respond(message)?;
        if sender.is_done() {
            self.receiver_len += sender.receiver_len();
            self.current = None;
        }
        Ok(out)
    }

    /// Every bucket was answered.
    pub fn is_complete(&self) -> bool {
        self.next == self.buckets && self.current.is_none()
    }
}

/// The receiver of a streaming VOLE session: one bucket's [`Receiver`] at a time.
pub struct StreamReceiver {
    kind: KeyKind,
    buckets: u32,
    bound: Option<usize>,
    stream: Option<[u8; 16]>,
    next: u32,
    current: Option<(Receiver, Vec<u8>)>,
    sender_len: usize,
}

impl StreamReceiver {
    pub fn new(kind: KeyKind, buckets: u32) -> CoreResult<Self> {
        check_buckets(buckets)?;
        Ok(Self {
            kind,
            buckets,
            bound: None,
            stream: None,
            next: 0,
            current: None,
            sender_len: 0,
        })
    }

    /// `(hashes, buckets)` of one record batch's keys (row `first_row` onwards).
    pub fn hash_batch(
        &self,
        keys: StrColumn<'_>,
        first_row: usize,
    ) -> CoreResult<(Vec<u128>, Vec<u32>)> {
        hash_batch(keys, self.kind, first_row, self.buckets)
    }

    /// Fix the padded bucket size from this side's number of distinct keys (once).
    pub fn begin(&mut self, distinct: u64) -> CoreResult<()> {
        begin_bound(&mut self.bound, distinct, self.buckets)
    }

    /// The padded size of every bucket (after [`StreamReceiver::begin`]).
    pub fn padded_len(&self) -> usize {
        self.bound.unwrap_or(0)
    }

    /// The sender's padded sizes summed over the buckets finished so far.
    pub fn sender_len(&self) -> usize {
        self.sender_len
    }

    /// The request of the next bucket, from the sender's setup part and this bucket's key
    /// hashes (one per row, duplicates allowed).
    pub fn request_part(&mut self, setup: &[u8], hashes: &[u128]) -> CoreResult<Vec<u8>> {
        let bound = bound_of(self.bound)?;
        if self.current.is_some() {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the open bucket is not finished: one bucket at a time",
            ));
        }
        let part = Part::of(setup)?;
        if part.buckets != self.buckets {
            return Err(CoreError::invalid(
                "setup",
                None,
                format!(
                    "made for {} buckets, this party uses {}",
                    part.buckets, self.buckets
                ),
            ));
        }
        if part.bucket != self.next {
            return Err(CoreError::invalid(
                "setup",
                None,
                format!(
                    "the setup of bucket {} arrived, bucket {} was expected",
                    part.bucket, self.next
                ),
            ));
        }
        if self.stream.is_some_and(|s| s != part.stream) {
            return Err(CoreError::invalid(
                "setup",
                None,
                "the setup part belongs to another stream",
            ));
        }
        let mut receiver = Receiver::for_part(hashes, self.kind, part, bound)?;
        let request = receiver.request(setup)?;
        self.stream = Some(part.stream);
        self.current = Some((receiver, setup.to_vec()));
        Ok(request)
    }

    /// The open bucket's correction, from the sender's VOLE message.
    pub fn correction_part(&mut self, vole: &[u8]) -> CoreResult<Vec<u8>> {
        match self.current.as_mut() {
            Some((receiver, _)) => receiver.correction(vole),
            None => Err(CoreError::invalid(
                "vole",
                None,
                "no bucket is open (its setup part comes first)",
            )),
        }
    }

    /// The open bucket's matching positions (in the hashes given to
    /// [`StreamReceiver::request_part`]), ascending; closes the bucket.
    pub fn finish_part(&mut self, response: &[u8]) -> CoreResult<Vec<i64>> {
        let Some((receiver, setup)) = self.current.as_mut() else {
            return Err(CoreError::invalid(
                "response",
                None,
                "no bucket is open (its setup part comes first)",
            ));
        };
        let rows = receiver.finish(setup, response)?;
        self.sender_len += receiver.sender_len();
        self.current = None;
        self.next += 1;
        Ok(rows)
    }

    /// Every bucket was finished.
    pub fn is_complete(&self) -> bool {
        self.next == self.buckets
    }
}

#[cfg(test)]
mod tests;
