//! Bindings of `parallel`: the engine pool's size.

use pyo3::prelude::*;

use crate::parallel;

/// The number of threads of the engine pool.
#[pyfunction]
fn num_threads() -> usize {
    parallel::num_threads()
}

/// Resize the engine pool (at least 1); takes effect on the next call into the engine.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    Ok(parallel::set_num_threads(n)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    Ok(())
}
