//! Bindings of `ids`: unified social credit codes over Arrow string buffers.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::detach::run_detached;
use crate::error::CoreError;
use crate::ids;

/// Problem code per row of an Arrow large-string column (0 valid, 1 length, 2 charset,
/// 3 check character). `offsets` has n + 1 entries indexing into `data`.
#[pyfunction]
fn check_uscc_column<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let offsets = offsets
        .as_slice()
        .map_err(|_| CoreError::invalid("offsets", None, "must be contiguous"))?;
    let data = data
        .as_slice()
        .map_err(|_| CoreError::invalid("data", None, "must be contiguous"))?;
    let codes = run_detached(py, || ids::check_uscc_column(offsets, data))?;
    Ok(codes.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_uscc_column, m)?)?;
    m.add(
        "USCC_CHARSET",
        std::str::from_utf8(ids::USCC_CHARSET).unwrap_or_default(),
    )?;
    m.add("USCC_WEIGHTS", ids::USCC_WEIGHTS.to_vec())?;
    Ok(())
}
