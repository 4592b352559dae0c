//! The engine's one error type.
//!
//! Every fallible engine function returns [`CoreResult`]. The Python binding maps each
//! variant to one exception class of `zone_opt.errors` in a single table
//! (`py/errors.rs`); nothing else converts errors.

use std::fmt;

/// Where bad input was found: the field (column or argument), the row if any, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub row: Option<usize>,
    pub reason: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, row: Option<usize>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            row,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.row {
            Some(row) => write!(f, "{} (row {}): {}", self.field, row, self.reason),
            None => write!(f, "{}: {}", self.field, self.reason),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The caller's data breaks a documented precondition. Never a bug in the engine.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidInput(Vec<Violation>),
    /// An input size asks for more memory (or work) than the engine grants one call
    /// (`budget.rs`): `field` names the argument whose size is too large.
    #[error("resource exhausted: {field}: {reason}")]
    ResourceExhausted { field: String, reason: String },
    /// A cancellation token was set while the work ran.
    #[error("cancelled")]
    Cancelled,
    /// A proof, certificate or message failed verification.
    #[error("verification failed: {0}")]
    VerificationFailed(String),
    /// An invariant of the engine itself broke: a bug, reported instead of a panic.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// One violation at `field` (and `row`, when it is about one row).
    pub fn invalid(
        field: impl Into<String>,
        row: Option<usize>,
        reason: impl Into<String>,
    ) -> Self {
        Self::InvalidInput(vec![Violation::new(field, row, reason)])
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_row_and_reason() {
        let e = CoreError::invalid("scores", Some(3), "NaN");
        assert_eq!(e.to_string(), "invalid input: scores (row 3): NaN");
        let e = CoreError::invalid("shape", None, "negative");
        assert_eq!(e.to_string(), "invalid input: shape: negative");
    }
}
