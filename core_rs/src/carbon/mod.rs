//! Carbon accounting: allocation of emissions in integer grams, exact hour by hour, and
//! the audit trail over the results.
//!
//! - [`pro_rata`]: divide hourly totals by metered use, largest-remainder rounding.
//! - [`shapley`]: Shapley values of a shared facility with a piecewise-linear emission
//!   curve, exact (meet in the middle) or sampled with standard errors.
//! - [`scope2`]: Scope 2 per tenant-hour: PV sharing, hourly green matching, location- and
//!   market-based emissions, losses.
//! - [`audit`]: RFC 6962 Merkle tree over result rows, inclusion proofs, chained roots.

pub mod audit;
pub mod pro_rata;
pub mod scope2;
pub mod shapley;
pub mod split;

pub use pro_rata::{allocate_pro_rata, ProRata};
pub use shapley::{shapley_allocation, Shapley, ShapleyOptions};
