//! Matching engines.

pub mod stable;
