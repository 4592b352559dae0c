//! Fast PSI on silent VOLE and an OKVS (the RR22 construction, semi-honest).
//! See `docs/join-vole.md`.
pub mod aeshash;
pub mod field;
pub mod okvs;
pub mod ot;
pub mod protocol;
pub mod stream;
pub mod svole;
