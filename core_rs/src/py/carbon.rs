//! Bindings of `carbon`: pro-rata and Shapley allocation, and the Merkle audit trail.
//! Arrays cross as numpy arrays (zero copy in); the work runs detached from the GIL.

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::detach::run_detached;
use crate::carbon::audit::{self, Hash};
use crate::carbon::{pro_rata, shapley};
use crate::error::{CoreError, CoreResult};

fn contiguous<'a, T>(
    slice: Result<&'a [T], numpy::AsSliceError>,
    field: &str,
) -> CoreResult<&'a [T]> {
    slice.map_err(|_| CoreError::invalid(field, None, "must be a C-contiguous array"))
}

fn hash_of(bytes: &[u8], field: &str, row: Option<usize>) -> CoreResult<Hash> {
    bytes.try_into().map_err(|_| {
        CoreError::invalid(
            field,
            row,
            format!("a SHA-256 hash has 32 bytes, got {}", bytes.len()),
        )
    })
}

type ProRataOut<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray1<i64>>);

/// Pro-rata allocation: `(alloc_g (n, hours), unallocated_g (hours,))`.
#[pyfunction]
fn carbon_allocate_pro_rata<'py>(
    py: Python<'py>,
    total_g: PyReadonlyArray1<'py, i64>,
    use_: PyReadonlyArray2<'py, f64>,
) -> PyResult<ProRataOut<'py>> {
    let n = use_.shape()[0];
    let hours = use_.shape()[1];
    if hours != total_g.len() {
        return Err(CoreError::invalid(
            "use",
            None,
            format!(
                "has {hours} hour columns, total_g has {} hours",
                total_g.len()
            ),
        )
        .into());
    }
    let total = contiguous(total_g.as_slice(), "total_g")?;
    let weights = contiguous(use_.as_slice(), "use")?;
    let r = run_detached(py, || pro_rata::allocate_pro_rata(total, weights, n))?;
    let alloc = Array2::from_shape_vec((n, hours), r.alloc_g)
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok((alloc.into_pyarray(py), r.unallocated_g.into_pyarray(py)))
}

type ShapleyOut<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    i64,
    i64,
    bool,
    usize,
);

/// Shapley allocation: `(co2e_g, value_g, se_g, total_g, unallocated_g, exact, samples)`.
#[pyfunction]
#[pyo3(signature = (use_, load_points, emission_points, exact=None, samples=None, seed=0))]
fn carbon_shapley<'py>(
    py: Python<'py>,
    use_: PyReadonlyArray2<'py, f64>,
    load_points: PyReadonlyArray1<'py, f64>,
    emission_points: PyReadonlyArray1<'py, f64>,
    exact: Option<bool>,
    samples: Option<usize>,
    seed: u64,
) -> PyResult<ShapleyOut<'py>> {
    let (n, hours) = (use_.shape()[0], use_.shape()[1]);
    let loads = contiguous(use_.as_slice(), "use")?;
    let xs = contiguous(load_points.as_slice(), "load_points")?;
    let ys = contiguous(emission_points.as_slice(), "emission_points")?;
    let options = shapley::ShapleyOptions {
        exact,
        samples,
        seed,
    };
    let r = run_detached(py, || {
        shapley::shapley_allocation(loads, n, hours, xs, ys, options)
    })?;
    Ok((
        r.co2e_g.into_pyarray(py),
        r.value_g.into_pyarray(py),
        r.se_g.into_pyarray(py),
        r.total_g,
        r.unallocated_g,
        r.exact,
        r.samples,
    ))
}

fn leaves(offsets: &[i64], data: &[u8]) -> CoreResult<Vec<Hash>> {
    Ok(audit::leaf_hashes(&audit::split_rows(offsets, data)?))
}

/// Merkle root (32 bytes) of the rows stored as `offsets` (n + 1) into `data`.
#[pyfunction]
fn audit_merkle_root<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyBytes>> {
    let offsets = contiguous(offsets.as_slice(), "offsets")?;
    let data = contiguous(data.as_slice(), "data")?;
    let root = run_detached(py, || Ok(audit::root(&leaves(offsets, data)?)))?;
    Ok(PyBytes::new(py, &root))
}

/// The inclusion proof (audit path, leaf side first) of row `index`.
#[pyfunction]
fn audit_merkle_proof<'py>(
    py: Python<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    data: PyReadonlyArray1<'py, u8>,
    index: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let offsets = contiguous(offsets.as_slice(), "offsets")?;
    let data = contiguous(data.as_slice(), "data")?;
    let path = run_detached(py, || {
        audit::inclusion_proof(&leaves(offsets, data)?, index)
    })?;
    Ok(path.iter().map(|h| PyBytes::new(py, h)).collect())
}

/// Whether `path` proves `row` at `index` in a tree of `tree_size` rows with `root`.
#[pyfunction]
fn audit_verify(
    row: &[u8],
    index: u64,
    tree_size: u64,
    path: Vec<Vec<u8>>,
    root: &[u8],
) -> PyResult<bool> {
    let root = hash_of(root, "root", None)?;
    let path = path
        .iter()
        .enumerate()
        .map(|(k, p)| hash_of(p, "proof.path", Some(k)))
        .collect::<CoreResult<Vec<Hash>>>()?;
    Ok(audit::verify_inclusion(
        &audit::leaf_hash(row),
        index,
        tree_size,
        &path,
        &root,
    ))
}

/// The head of a run chained to the previous head: `H(0x02 || previous || root)`.
#[pyfunction]
fn audit_chain_head<'py>(
    py: Python<'py>,
    previous: &[u8],
    root: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let previous = hash_of(previous, "previous", None)?;
    let root = hash_of(root, "root", None)?;
    Ok(PyBytes::new(py, &audit::chain_head(&previous, &root)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(carbon_allocate_pro_rata, m)?)?;
    m.add_function(wrap_pyfunction!(carbon_shapley, m)?)?;
    m.add_function(wrap_pyfunction!(audit_merkle_root, m)?)?;
    m.add_function(wrap_pyfunction!(audit_merkle_proof, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify, m)?)?;
    m.add_function(wrap_pyfunction!(audit_chain_head, m)?)?;
    m.add("CARBON_MAX_TOTAL_G", pro_rata::MAX_TOTAL_G)?;
    m.add("CARBON_EXACT_MAX_TENANTS", shapley::EXACT_MAX_TENANTS)?;
    Ok(())
}
