//! Bindings of `matching`: dense and sparse exact assignment.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1};
use pyo3::prelude::*;

use super::detach::{run_detached, run_detached_here};
use crate::error::CoreError;
use crate::matching::{self, Cost, DenseSolution, SparseOptions, SparseProblem};

type Arr<'py, T> = Bound<'py, PyArray1<T>>;
type DenseOut<'py, C> = (Arr<'py, i64>, Arr<'py, i64>, Arr<'py, C>, Arr<'py, C>, f64);

fn dense<'py, C: Cost + numpy::Element>(
    py: Python<'py>,
    costs: PyReadonlyArray2<'py, C>,
    negate: bool,
) -> PyResult<DenseOut<'py, C>> {
    let shape = costs.as_array().shape().to_vec();
    let (n, m) = (shape[0], shape[1]);
    let data = costs
        .as_slice()
        .map_err(|_| CoreError::invalid("scores", None, "must be C-contiguous"))?;
    let DenseSolution {
        row_to_col,
        col_to_row,
        u,
        v,
        max_abs,
    } = run_detached(py, || matching::solve_dense_signed(data, n, m, negate))?;
    Ok((
        row_to_col.into_pyarray(py),
        col_to_row.into_pyarray(py),
        u.into_pyarray(py),
        v.into_pyarray(py),
        max_abs,
    ))
}

/// Minimum-cost assignment of a C-contiguous int64 matrix (of its negation when
/// `negate`): (row_to_col, col_to_row, u, v, max |cost|).
#[pyfunction]
#[pyo3(signature = (costs, negate=false))]
fn assign_dense_i64<'py>(
    py: Python<'py>,
    costs: PyReadonlyArray2<'py, i64>,
    negate: bool,
) -> PyResult<DenseOut<'py, i64>> {
    dense(py, costs, negate)
}

/// Minimum-cost assignment of a C-contiguous float64 matrix (of its negation when
/// `negate`): (row_to_col, col_to_row, u, v, max |cost|).
#[pyfunction]
#[pyo3(signature = (costs, negate=false))]
fn assign_dense_f64<'py>(
    py: Python<'py>,
    costs: PyReadonlyArray2<'py, f64>,
    negate: bool,
) -> PyResult<DenseOut<'py, f64>> {
    dense(py, costs, negate)
}

type SparseOut<'py> = (
    Arr<'py, i64>,
    Arr<'py, i64>,
    Arr<'py, i64>,
    Arr<'py, i64>,
    bool,
    i64,
    i64,
);

/// The edges of a sparse problem: `(rows, cols, scores)`, int64 arrays of equal length.
type SparseEdges<'py> = (
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, i64>,
);

/// Maximum-weight sparse matching over int64 edges `(rows, cols, scores)` of a `shape`:
/// (row_to_col, col_to_row, u, p, feasible, total, dual_scale): the duals are integers in
/// units of 1 / dual_scale. `col_prices` are in score units; `auction=False` skips the
/// auction start (shortest augmenting paths only).
#[pyfunction]
#[pyo3(signature = (edges, shape, perfect, col_prices=None, auction=true))]
fn assign_sparse_i64<'py>(
    py: Python<'py>,
    edges: SparseEdges<'py>,
    shape: (usize, usize),
    perfect: bool,
    col_prices: Option<PyReadonlyArray1<'py, f64>>,
    auction: bool,
) -> PyResult<SparseOut<'py>> {
    let (rows, cols, scores) = edges;
    let (n_rows, n_cols) = shape;
    let contiguous = |name: &'static str| CoreError::invalid(name, None, "must be contiguous");
    let rows = rows.as_slice().map_err(|_| contiguous("rows"))?;
    let cols = cols.as_slice().map_err(|_| contiguous("cols"))?;
    let scores = scores.as_slice().map_err(|_| contiguous("scores"))?;
    let prices = match &col_prices {
        Some(p) => Some(p.as_slice().map_err(|_| contiguous("col_prices"))?),
        None => None,
    };
    let sol = run_detached(py, || {
        let start = if auction {
            matching::Start::Auction
        } else {
            matching::Start::Greedy
        };
        matching::solve_sparse(
            SparseProblem {
                rows,
                cols,
                scores,
                n_rows,
                n_cols,
            },
            SparseOptions {
                perfect,
                col_prices: prices,
                start,
            },
        )
    })?;
    Ok((
        sol.row_to_col.into_pyarray(py),
        sol.col_to_row.into_pyarray(py),
        sol.u.into_pyarray(py),
        sol.p.into_pyarray(py),
        sol.feasible,
        sol.total,
        sol.dual_scale,
    ))
}

/// Join the components of the edges `(rows, cols)` into `parent` (int64, one entry per
/// row then per column, flat, each root its component's smallest node; start from
/// `arange(n_rows + n_cols)`), in place; see `matching::components::union_edges`.
#[pyfunction]
fn union_edges<'py>(
    py: Python<'py>,
    mut parent: PyReadwriteArray1<'py, i64>,
    rows: PyReadonlyArray1<'py, i64>,
    cols: PyReadonlyArray1<'py, i64>,
    n_rows: usize,
) -> PyResult<()> {
    let contiguous = |name: &'static str| CoreError::invalid(name, None, "must be contiguous");
    let parent = parent.as_slice_mut().map_err(|_| contiguous("parent"))?;
    let rows = rows.as_slice().map_err(|_| contiguous("rows"))?;
    let cols = cols.as_slice().map_err(|_| contiguous("cols"))?;
    run_detached_here(py, || {
        matching::components::union_edges(parent, rows, cols, n_rows)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(union_edges, m)?)?;
    m.add_function(wrap_pyfunction!(assign_dense_i64, m)?)?;
    m.add_function(wrap_pyfunction!(assign_dense_f64, m)?)?;
    m.add_function(wrap_pyfunction!(assign_sparse_i64, m)?)?;
    m.add("SPARSE_SCORE_SPAN", crate::matching::sparse::SAFE_SPAN)?;
    Ok(())
}
