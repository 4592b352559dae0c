//! Bindings of `parallel` and `budget`: the engine pool's size and the memory budget.

use pyo3::prelude::*;

use crate::{budget, parallel};

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

/// The largest working memory, in bytes, one engine call may ask for.
#[pyfunction]
fn memory_budget() -> usize {
    budget::memory_budget()
}

/// Set the memory budget in bytes (0 restores the default, the machine's physical memory).
#[pyfunction]
fn set_memory_budget(bytes: usize) {
    budget::set_memory_budget(bytes);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(memory_budget, m)?)?;
    m.add_function(wrap_pyfunction!(set_memory_budget, m)?)?;
    Ok(())
}
