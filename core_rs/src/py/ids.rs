//! Bindings of `ids`: unified social credit codes over Arrow string buffers.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::detach::{run_detached, run_detached_here};
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
    let codes = if offsets.len() <= ids::USCC_SEQUENTIAL_ROWS + 1 {
        run_detached_here(py, || ids::check_uscc_column(offsets, data))?
    } else {
        run_detached(py, || ids::check_uscc_column(offsets, data))?
    };
    Ok(codes.into_pyarray(py))
}

/// Per row its code, per code its first row.
type CodesAndFirsts<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// Dense codes of an Arrow `string` (int32 offsets) or `large_string` (int64 offsets)
/// column, and the first row of each code (see `ids::dictionary_codes`).
#[pyfunction]
fn dictionary_codes<'py>(
    py: Python<'py>,
    offsets: &Bound<'py, PyAny>,
    data: PyReadonlyArray1<'py, u8>,
) -> PyResult<CodesAndFirsts<'py>> {
    let data = data
        .as_slice()
        .map_err(|_| CoreError::invalid("data", None, "must be contiguous"))?;
    let contiguous = |_| CoreError::invalid("offsets", None, "must be contiguous");
    let (codes, firsts) = if let Ok(narrow) = offsets.extract::<PyReadonlyArray1<'py, i32>>() {
        let narrow = narrow.as_slice().map_err(contiguous)?;
        run_detached_here(py, || ids::dictionary_codes(narrow, data))?
    } else {
        let wide = offsets
            .extract::<PyReadonlyArray1<'py, i64>>()
            .map_err(|_| CoreError::invalid("offsets", None, "must be an int32 or int64 array"))?;
        let wide = wide.as_slice().map_err(contiguous)?;
        run_detached_here(py, || ids::dictionary_codes(wide, data))?
    };
    Ok((codes.into_pyarray(py), firsts.into_pyarray(py)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_uscc_column, m)?)?;
    m.add_function(wrap_pyfunction!(dictionary_codes, m)?)?;
    m.add(
        "USCC_CHARSET",
        std::str::from_utf8(ids::USCC_CHARSET).unwrap_or_default(),
    )?;
    m.add("USCC_WEIGHTS", ids::USCC_WEIGHTS.to_vec())?;
    Ok(())
}
