//! Release the GIL, run on the engine pool, convert the error: in one place.

use pyo3::prelude::*;

use crate::error::CoreResult;
use crate::parallel;

/// Run heavy engine work with the GIL released, inside the engine's rayon pool.
///
/// Arguments must already be converted to Rust values: nothing Python-owned may enter `f`.
pub fn run_detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> CoreResult<T> + Send,
{
    py.detach(|| parallel::install(f)).map_err(PyErr::from)
}

/// [`run_detached`] for sequential work: the GIL released, run on the calling thread (no
/// hop to the engine pool, whose threads may be busy with other calls or asleep).
pub fn run_detached_here<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> CoreResult<T> + Send,
{
    py.detach(f).map_err(PyErr::from)
}
