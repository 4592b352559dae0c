//! A party's session on workers of its own cluster: the session secret sealed to a worker
//! ([`super::super::seal`]) and opened there into a copy of the session that computes one
//! bucket's messages, with the same bytes as the original. The driver keeps the order and
//! the answered-once record ([`StreamSender::admit_part`]); workers keep no state.

use curve25519_dalek::scalar::Scalar;
use zeroize::{Zeroize, Zeroizing};

use super::{canonical_batch, check_buckets, Pending, StreamReceiver, StreamSender};
use crate::error::{CoreError, CoreResult};
use crate::join::group::SecretScalar;
use crate::join::hash::{KeyKind, Suite};
use crate::join::protocol::{distinct, Options, StrColumn};
use crate::join::seal::{seal, SealKey};
use crate::join::wire::Mode;

/// Seal label of a sender's session secret.
pub const LABEL_SENDER: &[u8] = b"ZONE-OPT-PSI-V1-STREAM-SENDER-SECRET";
/// Seal label of a receiver's session secret.
pub const LABEL_RECEIVER: &[u8] = b"ZONE-OPT-PSI-V1-STREAM-RECEIVER-SECRET";
/// Bytes of a session secret's public part: key kind (1), buckets (4), session id (16).
const SECRET_HEAD: usize = 1 + 4 + 16;

/// The session's public parameters, then its secret values, as sealed to a worker.
fn secret_bytes(
    options: &Options,
    buckets: u32,
    session: &[u8; 16],
    secrets: &[&[u8; 32]],
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(SECRET_HEAD + 32 * secrets.len()));
    out.push(u8::from(options.key_kind == KeyKind::Uscc));
    out.extend_from_slice(&buckets.to_le_bytes());
    out.extend_from_slice(session);
    for s in secrets {
        out.extend_from_slice(*s);
    }
    out
}

/// A session's parameters (options, buckets, session id) and its `N` 32-byte secrets.
type Opened<const N: usize> = (Options, u32, [u8; 16], [[u8; 32]; N]);

/// The session's parameters and `N` 32-byte secrets from opened secret bytes.
fn parse_secret<const N: usize>(plain: &[u8]) -> CoreResult<Opened<N>> {
    if plain.len() != SECRET_HEAD + 32 * N || plain[0] > 1 {
        return Err(CoreError::invalid(
            "sealed",
            None,
            "not a streaming session secret",
        ));
    }
    let key_kind = if plain[0] == 1 {
        KeyKind::Uscc
    } else {
        KeyKind::Text
    };
    let mut word = [0_u8; 4];
    word.copy_from_slice(&plain[1..5]);
    let buckets = u32::from_le_bytes(word);
    check_buckets(buckets)?;
    let mut session = [0_u8; 16];
    session.copy_from_slice(&plain[5..SECRET_HEAD]);
    let mut secrets = [[0_u8; 32]; N];
    for (i, s) in secrets.iter_mut().enumerate() {
        s.copy_from_slice(&plain[SECRET_HEAD + 32 * i..SECRET_HEAD + 32 * (i + 1)]);
    }
    let options = Options {
        mode: Mode::Intersection,
        verifiable: false,
        key_kind,
        suite: Suite::default_for(false),
    };
    Ok((options, buckets, session, secrets))
}

/// A non-zero scalar from its canonical bytes (the bytes are wiped).
fn secret_scalar(bytes: &mut [u8; 32]) -> CoreResult<SecretScalar> {
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes));
    bytes.zeroize();
    match s {
        Some(s) if s != Scalar::ZERO => Ok(SecretScalar(s)),
        _ => Err(CoreError::invalid(
            "sealed",
            None,
            "the sealed scalar is not a valid key",
        )),
    }
}

impl StreamSender {
    /// Seal this session's secret (its OPRF key, with the session's parameters) to a
    /// worker's public key: the worker opens it with [`Self::open_sealed`].
    pub fn seal_to(&self, public: &[u8]) -> CoreResult<Vec<u8>> {
        let mut key = self.key.0.to_bytes();
        let plain = secret_bytes(&self.options, self.buckets, &self.session, &[&key]);
        key.zeroize();
        seal(public, LABEL_SENDER, &plain)
    }

    /// A worker's copy of the session from bytes sealed to `key`: it computes tags, setup
    /// parts and responses as the original does (the same bytes); its answered-once record
    /// starts empty (the driver keeps the session's, [`Self::admit_part`]).
    pub fn open_sealed(key: &SealKey, sealed: &[u8]) -> CoreResult<Self> {
        let plain = key.open(LABEL_SENDER, sealed)?;
        let (options, buckets, session, [mut k]) = parse_secret::<1>(&plain)?;
        Ok(Self {
            options,
            buckets,
            session,
            key: secret_scalar(&mut k)?,
            receiver_session: None,
            answered: vec![false; buckets as usize],
            receiver_len: 0,
        })
    }

    /// The checks and the record of [`Self::respond_part`] without the evaluation (a worker
    /// evaluates): the request's bucket, now answered. Refused as `respond_part` refuses.
    pub fn admit_part(&mut self, request: &[u8]) -> CoreResult<u32> {
        let (receiver_session, part, data) = self.read_request(request)?;
        self.record(receiver_session, part, data.len() / 32);
        Ok(part)
    }
}

impl StreamReceiver {
    /// Seal this session's secret (its blind and bucket key, with the session's parameters)
    /// to a worker's public key: the worker opens it with [`Self::open_sealed`].
    pub fn seal_to(&self, public: &[u8]) -> CoreResult<Vec<u8>> {
        let mut blind = self.blind.0.to_bytes();
        let plain = secret_bytes(
            &self.options,
            self.buckets,
            &self.session,
            &[&blind, &self.bucket_key],
        );
        blind.zeroize();
        seal(public, LABEL_RECEIVER, &plain)
    }

    /// A worker's copy of the session from bytes sealed to `key`: it partitions, requests,
    /// unblinds ([`Self::receive_for`]) and matches ([`Self::match_for`]) as the original
    /// does, with the same bytes; the order of the buckets is the driver's to keep.
    pub fn open_sealed(key: &SealKey, sealed: &[u8]) -> CoreResult<Self> {
        let plain = key.open(LABEL_RECEIVER, sealed)?;
        let (options, buckets, session, [mut blind, bucket_key]) = parse_secret::<2>(&plain)?;
        Ok(Self {
            options,
            buckets,
            session,
            blind: secret_scalar(&mut blind)?,
            bucket_key,
            pending: None,
            requested: vec![false; buckets as usize],
            received: 0,
            sender_session: None,
            next_setup: 0,
        })
    }

    /// Unblind the response to bucket `part`'s request over `keys` (the keys given to
    /// [`Self::request_part`], again) without a pending request: `(the sender's session
    /// id, one 12-byte tag per key)`. For a worker's copy of the session; the driver checks
    /// that every bucket's sender session is the same.
    pub fn receive_for(
        &self,
        part: u32,
        keys: StrColumn<'_>,
        response: &[u8],
    ) -> CoreResult<([u8; 16], Vec<u8>)> {
        if part >= self.buckets {
            return Err(CoreError::invalid(
                "bucket",
                None,
                format!("{part} is not below {}", self.buckets),
            ));
        }
        let canon = canonical_batch(keys, self.options.key_kind, 0)?;
        let (keys, row_to) = distinct(canon);
        self.unblind(&Pending { part, keys, row_to }, response)
    }

    /// [`Self::match_part`] for setup part `part` of the sender session `sender_session`
    /// (whose responses the driver received) without the order's state: for a worker's
    /// copy of the session; the driver keeps the parts in order, each once.
    pub fn match_for(
        &self,
        part: u32,
        sender_session: &[u8],
        setup: &[u8],
        tags: &[u8],
        rows: &[i64],
    ) -> CoreResult<Vec<i64>> {
        let session: [u8; 16] = sender_session
            .try_into()
            .map_err(|_| CoreError::invalid("sender_session", None, "must be 16 bytes"))?;
        if part >= self.buckets {
            return Err(CoreError::invalid(
                "bucket",
                None,
                format!("{part} is not below {}", self.buckets),
            ));
        }
        self.match_checked(part, Some(session), setup, tags, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::super::TAG_LEN;
    use super::*;
    use crate::join::tests::column;

    fn opts() -> Options {
        Options {
            mode: Mode::Intersection,
            verifiable: false,
            key_kind: KeyKind::Text,
            suite: Suite::ZoneOptV1,
        }
    }

    fn col(c: &(Vec<i64>, Vec<u8>)) -> StrColumn<'_> {
        StrColumn {
            offsets: &c.0,
            data: &c.1,
        }
    }

    #[test]
    fn worker_copies_give_the_original_bytes() {
        let keys: Vec<String> = (0..500).map(|i| format!("k{}", i % 400)).collect();
        let c = column(&keys);
        let worker = SealKey::generate().unwrap();
        let mut server = StreamSender::new(opts(), 4).unwrap();
        let mut client = StreamReceiver::new(opts(), 4).unwrap();
        let s_copy =
            StreamSender::open_sealed(&worker, &server.seal_to(&worker.public()).unwrap()).unwrap();
        let mut r_copy =
            StreamReceiver::open_sealed(&worker, &client.seal_to(&worker.public()).unwrap())
                .unwrap();
        assert_eq!(
            s_copy.tags(col(&c), 0).unwrap(),
            server.tags(col(&c), 0).unwrap()
        );
        assert_eq!(
            r_copy.partition(col(&c), 0).unwrap(),
            client.partition(col(&c), 0).unwrap()
        );
        let request = client.request_part(2, col(&c)).unwrap();
        assert_eq!(r_copy.request_part(2, col(&c)).unwrap(), request);
        let mut s_copy = s_copy;
        let response = s_copy.respond_part(&request).unwrap();
        assert_eq!(server.admit_part(&request).unwrap(), 2);
        assert!(server.admit_part(&request).is_err()); // answered once
        let (session, tags) = r_copy.receive_for(2, col(&c), &response).unwrap();
        assert_eq!(session, server.session());
        assert_eq!(tags, client.receive_part(&response).unwrap());
        assert_eq!(tags, server.tags(col(&c), 0).unwrap());
        assert!(r_copy.receive_for(1, col(&c), &response).is_err()); // another bucket
                                                                     // match_for finds every row of a bucket's own tags.
        let mut by_prefix: Vec<u8> = Vec::new();
        let mut rows = Vec::new();
        for (i, t) in tags.chunks(TAG_LEN).enumerate() {
            if super::super::tag_bucket(t, 4) == 1 {
                by_prefix.extend_from_slice(t);
                rows.push(i as i64);
            }
        }
        let setup = server.setup_part(1, &by_prefix).unwrap();
        let matched = r_copy
            .match_for(1, &server.session(), &setup, &by_prefix, &rows)
            .unwrap();
        assert_eq!(matched, rows);
        assert!(r_copy
            .match_for(0, &server.session(), &setup, &by_prefix, &rows)
            .is_err());
        assert!(r_copy
            .match_for(1, &[0; 16], &setup, &by_prefix, &rows)
            .is_err());
    }

    #[test]
    fn a_sealed_secret_opens_as_its_own_role_with_its_own_key() {
        let (worker, other) = (SealKey::generate().unwrap(), SealKey::generate().unwrap());
        let server = StreamSender::new(opts(), 8).unwrap();
        let client = StreamReceiver::new(opts(), 8).unwrap();
        let s = server.seal_to(&worker.public()).unwrap();
        let r = client.seal_to(&worker.public()).unwrap();
        assert!(StreamSender::open_sealed(&other, &s).is_err());
        assert!(StreamReceiver::open_sealed(&worker, &s).is_err()); // the sender's label
        assert!(StreamSender::open_sealed(&worker, &r).is_err());
        let mut bad = s.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(StreamSender::open_sealed(&worker, &bad).is_err());
        let copy = StreamSender::open_sealed(&worker, &s).unwrap();
        assert_eq!((copy.session(), copy.buckets), (server.session(), 8));
        assert!(server.seal_to(&[1; 32]).is_err());
    }
}
