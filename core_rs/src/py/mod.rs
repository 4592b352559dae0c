//! The Python binding layer: the only place pyo3 appears.
//!
//! One file per engine module, each with a `register` function called below. Bindings
//! convert arguments, call the engine through `detach::run_detached`, and convert back.

use pyo3::prelude::*;

mod arrays;
mod candidates;
mod carbon;
mod detach;
mod errors;
mod facilities;
mod ids;
mod join;
mod join_rfc9497;
mod join_vole;
mod matching;
mod runtime;
mod stable;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "build_profile",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )?;
    runtime::register(m)?;
    ids::register(m)?;
    matching::register(m)?;
    stable::register(m)?;
    candidates::register(m)?;
    carbon::register(m)?;
    facilities::register(m)?;
    join::register(m)?;
    join_vole::register(m)?;
    Ok(())
}
