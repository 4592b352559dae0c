//! Bindings of `matching::stable`: deferred acceptance.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::arrays::slice;
use super::detach::run_detached;
use crate::matching::stable;

/// Proposer-optimal stable matching (hospital-resident); per proposer its receiver or -1.
#[pyfunction]
#[pyo3(signature = (rows, cols, proposer_scores, receiver_scores, capacities, n_proposers=None))]
fn deferred_acceptance<'py>(
    py: Python<'py>,
    rows: PyReadonlyArray1<'py, i64>,
    cols: PyReadonlyArray1<'py, i64>,
    proposer_scores: PyReadonlyArray1<'py, f64>,
    receiver_scores: PyReadonlyArray1<'py, f64>,
    capacities: PyReadonlyArray1<'py, i64>,
    n_proposers: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let rows = slice(&rows, "rows")?;
    let cols = slice(&cols, "cols")?;
    let ps = slice(&proposer_scores, "proposer_scores")?;
    let rs = slice(&receiver_scores, "receiver_scores")?;
    let caps = slice(&capacities, "capacities")?;
    let out = run_detached(py, || {
        stable::deferred_acceptance(rows, cols, ps, rs, caps, n_proposers)
    })?;
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(deferred_acceptance, m)?)?;
    Ok(())
}
