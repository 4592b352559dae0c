//! zone-opt's engine.
//!
//! Engine modules know nothing of Python: `cargo test` runs them with no interpreter.
//! The pyo3 bindings live only in `py/`, behind the `python` feature that maturin enables.

pub mod budget;
pub mod candidates;
pub mod carbon;
pub mod error;
pub mod facilities;
pub mod geo;
pub mod ids;
pub mod join;
pub mod matching;
pub mod parallel;

pub use error::{CoreError, CoreResult, Violation};

#[cfg(feature = "python")]
mod py;
