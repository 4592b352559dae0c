//! Privacy-preserving joins (PSI): DH-OPRF private set intersection on ristretto255.
//!
//! Modes (the receiver learns what the mode allows; the sender learns the receiver's
//! number of distinct keys, and in sum mode the intersection size):
//! - intersection: which receiver rows have a key in the sender's set;
//! - labelled: plus the sender's payload rows for them (inner or left join), AEAD-encrypted
//!   under keys derived from the OPRF output and the session id, padded per column, rows of
//!   one key grouped into one entry padded to the largest group (so multiplicities of keys
//!   the receiver does not hold stay hidden; the largest group size is public);
//! - cardinality: the number of common distinct keys, evaluations shuffled;
//! - sum: count and sum of a receiver column over the intersection (Private Join and
//!   Compute with exponential ElGamal), released only above a minimum intersection;
//! - verifiable (intersection, labelled): a batched DLEQ proof of every evaluation.
//!
//! Hash suites: verifiable sessions follow RFC 9497 `ristretto255-SHA512` (VOPRF mode) by
//! default, and any intersection or labelled session may (OPRF mode); `rfc9497.rs` holds
//! the suite's functions and its test vectors. The older zone-opt suite stays readable for
//! one release (`docs/join-rfc9497.md`).
//!
//! Sets larger than memory: `stream.rs` runs the intersection bucket by bucket.
//!
//! Speed: the per-element group work (hash to the group, decode, multiply by the session
//! key, encode) runs eight elements at a time on AVX-512 IFMA CPUs (`mb`, our own
//! multi-buffer ristretto255, bit-for-bit equal to curve25519-dalek), else on dalek
//! (`ZONE_OPT_JOIN_SIMD=0` forces dalek).
//!
//! See `protocol.rs` for the flow and `wire.rs` for the message format.

pub mod dleq;
pub mod elgamal;
pub mod group;
pub mod hash;
#[cfg(target_arch = "x86_64")]
pub mod mb;
pub mod protocol;
pub mod rfc9497;
pub mod seal;
pub mod stream;
pub mod table;
pub mod vole;
pub mod wire;

pub use hash::{KeyKind, Suite};
pub use protocol::{Options, Outcome, Payload, PayloadColumn, Receiver, Sender, StrColumn};
pub use stream::{StreamReceiver, StreamSender};
pub use wire::Mode;

/// Bytes of the comparison tag: a false match among `n_r * n_s` pairs has probability
/// about `n_r * n_s / 2^96` (1e-13 at 10^8 x 10^8).
pub const TAG_LEN: usize = 12;

#[cfg(test)]
mod tests;
