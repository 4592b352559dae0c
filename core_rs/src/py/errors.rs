//! The one table from `CoreError` to the exception classes of `zone_opt.errors`.

use pyo3::prelude::*;

use crate::error::CoreError;

pyo3::import_exception!(zone_opt.errors, InvalidInputError);
pyo3::import_exception!(zone_opt.errors, CancelledError);
pyo3::import_exception!(zone_opt.errors, ResourceExhaustedError);
pyo3::import_exception!(zone_opt.errors, VerificationError);
pyo3::import_exception!(zone_opt.errors, ZoneOptError);

impl From<CoreError> for PyErr {
    fn from(err: CoreError) -> PyErr {
        match err {
            CoreError::InvalidInput(violations) => {
                let message = CoreError::InvalidInput(violations.clone()).to_string();
                let items: Vec<(String, Option<usize>, String)> = violations
                    .into_iter()
                    .map(|v| (v.field, v.row, v.reason))
                    .collect();
                InvalidInputError::new_err((message, items))
            }
            CoreError::ResourceExhausted { .. } => ResourceExhaustedError::new_err(err.to_string()),
            CoreError::Cancelled => CancelledError::new_err("cancelled"),
            CoreError::VerificationFailed(why) => VerificationError::new_err(why),
            CoreError::Internal(why) => ZoneOptError::new_err(format!("internal error: {why}")),
        }
    }
}
