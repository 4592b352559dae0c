//! The receiver: blinds its keys, unblinds the answer, learns what the mode allows.

use curve25519_dalek::ristretto::CompressedRistretto;
use rayon::prelude::*;

use chacha20poly1305::aead::{Aead, Payload as AeadPayload};
use chacha20poly1305::Nonce;

use super::*;
use crate::error::{CoreError, CoreResult};
use crate::join::elgamal::{self, Ciphertext, KeyPair};
use crate::join::group::{
    decode_mul_compress, decode_points, hash_mul_compress_dst, mul_compress, random_permutation,
    SecretScalar, BATCH,
};
use crate::join::hash::{oprf_output, Suite};
use crate::join::table::TagTable;
use crate::join::wire::{Header, Kind, Mode, Reader, FLAG_RFC9497};
use crate::join::TAG_LEN;

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
pub struct Receiver {
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

impl Receiver {
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
