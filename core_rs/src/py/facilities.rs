//! Bindings of `facilities`: the single-source plan search.

use std::time::Duration;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::arrays::slice;
use super::detach::run_detached_here;
use crate::error::CoreError;
use crate::facilities::single_source::{self, Instance, Plan, SearchOptions};

type Found<'py> = Option<(Bound<'py, PyArray1<i64>>, f64, u64)>;

/// Iterated tabu search for a single-source plan from `start` (a site per customer):
/// (site per customer, cost, iterations) of the best feasible plan met, or None. Stops
/// early at a plan costing at most `stop_at_cost` (a proven bound).
#[pyfunction]
#[pyo3(signature = (cost, demand, capacity, fixed, start, *, time_limit_s, max_iterations, stall_iterations, seed=0, stop_at_cost=f64::NEG_INFINITY))]
#[allow(clippy::too_many_arguments)]
fn single_source_search<'py>(
    py: Python<'py>,
    cost: PyReadonlyArray2<'py, f64>,
    demand: PyReadonlyArray1<'py, f64>,
    capacity: PyReadonlyArray1<'py, f64>,
    fixed: PyReadonlyArray1<'py, f64>,
    start: PyReadonlyArray1<'py, i64>,
    time_limit_s: f64,
    max_iterations: u64,
    stall_iterations: u64,
    seed: u64,
    stop_at_cost: f64,
) -> PyResult<Found<'py>> {
    let shape = cost.as_array().shape().to_vec();
    let cost_s = cost
        .as_slice()
        .map_err(|_| CoreError::invalid("cost", None, "must be C-contiguous"))?;
    let (demand, capacity, fixed, start) = (
        slice(&demand, "demand")?,
        slice(&capacity, "capacity")?,
        slice(&fixed, "fixed")?,
        slice(&start, "start")?,
    );
    if shape[0] != capacity.len() || shape[1] != demand.len() {
        return Err(CoreError::invalid(
            "cost",
            None,
            format!(
                "has shape {:?}, expected (sites, customers) = ({}, {})",
                shape,
                capacity.len(),
                demand.len()
            ),
        )
        .into());
    }
    // NaN fails the comparison; +inf means no limit (the iteration budget binds).
    if time_limit_s.is_nan() || time_limit_s < 0.0 {
        return Err(
            CoreError::invalid("time_limit_s", None, "must be at least 0 (inf: none)").into(),
        );
    }
    let opts = SearchOptions {
        time_limit: Duration::try_from_secs_f64(time_limit_s).unwrap_or(Duration::MAX),
        max_iterations,
        stall_iterations: stall_iterations.max(1),
        seed,
        stop_at_cost,
    };
    let found = run_detached_here(py, || {
        let inst = Instance::new(cost_s, demand, capacity, fixed)?;
        single_source::improve(&inst, start, &opts)
    })?;
    Ok(found.map(
        |Plan {
             assign,
             cost,
             iterations,
         }| {
            let a: Vec<i64> = assign.into_iter().map(|i| i as i64).collect();
            (a.into_pyarray(py), cost, iterations)
        },
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(single_source_search, m)?)?;
    Ok(())
}
