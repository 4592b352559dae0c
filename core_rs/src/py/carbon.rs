//! Bindings of `carbon`: pro-rata and Shapley allocation, and the Merkle audit trail.
//! Arrays cross as numpy arrays (zero copy in); the work runs detached from the GIL.

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use super::detach::run_detached;
use crate::carbon::audit::{self, Hash};
use crate::carbon::scope2::{self as s2, LossPolicy, PvSharing};
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

/// An `n x hours` result as a numpy array that owns the vector (no copy).
fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    v: Vec<T>,
    n: usize,
    hours: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let rows = if v.is_empty() { 0 } else { n };
    let a =
        Array2::from_shape_vec((rows, hours), v).map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(a.into_pyarray(py).into_any())
}

/// The `n x hours` results of `r` into `out`.
fn cells<'py, T: numpy::Element + s2::Cell>(
    py: Python<'py>,
    out: &Bound<'py, PyDict>,
    r: s2::Scope2<T>,
) -> PyResult<s2::Scope2<i64>> {
    let (n, hours) = (r.n, r.hours);
    out.set_item("pv_wh", matrix(py, r.pv_wh, n, hours)?)?;
    out.set_item("matched_wh", matrix(py, r.matched_wh, n, hours)?)?;
    out.set_item("location_g", matrix(py, r.location_g, n, hours)?)?;
    out.set_item("market_g", matrix(py, r.market_g, n, hours)?)?;
    out.set_item("loss_location_g", matrix(py, r.loss_location_g, n, hours)?)?;
    out.set_item("loss_market_g", matrix(py, r.loss_market_g, n, hours)?)?;
    Ok(s2::Scope2 {
        n,
        hours,
        location_g: Vec::new(),
        market_g: Vec::new(),
        pv_wh: Vec::new(),
        matched_wh: Vec::new(),
        loss_location_g: Vec::new(),
        loss_market_g: Vec::new(),
        export_wh: r.export_wh,
        green_wh: r.green_wh,
        excess_wh: r.excess_wh,
        loss_wh: r.loss_wh,
        loss_location_total_g: r.loss_location_total_g,
        loss_market_total_g: r.loss_market_total_g,
        landlord_location_g: r.landlord_location_g,
        landlord_market_g: r.landlord_market_g,
        tenants: r.tenants,
    })
}

/// Scope 2 per tenant-hour (`carbon::scope2`): a dict of numpy arrays, `n x hours` for the
/// tenant-hour results (int32 where every value fits, else int64: `scope2_compact`),
/// `hours` for the hourly ones, `n` for the `tenant_*` totals (int64).
/// The optional inputs and switches of [`carbon_scope2`], read from a `dict` by name
/// (every key but `detail` optional): `pv_share` (int64, n) or `pv_priority` (uint64, n) for the PV
/// key, `certificate_wh` (int64, n x hours), `gate_import_wh` (int64, hours),
/// `gross_up_losses` (default false), and `detail` (required: whether the per tenant-hour
/// PV and matched energy are returned).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Scope2Options<'py> {
    #[pyo3(default)]
    pv_share: Option<PyReadonlyArray1<'py, i64>>,
    #[pyo3(default)]
    pv_priority: Option<PyReadonlyArray1<'py, u64>>,
    #[pyo3(default)]
    certificate_wh: Option<PyReadonlyArray2<'py, i64>>,
    #[pyo3(default)]
    gate_import_wh: Option<PyReadonlyArray1<'py, i64>>,
    #[pyo3(default)]
    gross_up_losses: bool,
    detail: bool,
}

#[pyfunction]
#[pyo3(signature = (load_wh, pv_wh, contracts, factors_ug_per_wh, options))]
fn carbon_scope2<'py>(
    py: Python<'py>,
    load_wh: PyReadonlyArray2<'py, i64>,
    pv_wh: PyReadonlyArray1<'py, i64>,
    contracts: (PyReadonlyArray2<'py, i64>, PyReadonlyArray2<'py, i64>),
    factors_ug_per_wh: (i64, i64),
    options: Scope2Options<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    let (contract_wh, contract_share) = contracts;
    let (location_ug_per_wh, residual_ug_per_wh) = factors_ug_per_wh;
    let Scope2Options {
        pv_share,
        pv_priority,
        certificate_wh,
        gate_import_wh,
        gross_up_losses,
        detail,
    } = options;
    let (n, hours) = (load_wh.shape()[0], load_wh.shape()[1]);
    if contract_wh.shape()[1] != hours && contract_wh.shape()[0] > 0 {
        return Err(CoreError::invalid(
            "contract_wh",
            None,
            format!(
                "has {} hour columns, load_wh has {hours}",
                contract_wh.shape()[1]
            ),
        )
        .into());
    }
    if contract_share.shape()[0] != contract_wh.shape()[0]
        || (contract_share.shape()[0] > 0 && contract_share.shape()[1] != n)
    {
        return Err(CoreError::invalid(
            "contract_share",
            None,
            format!(
                "has shape {:?}, expected (contracts, tenants) = ({}, {n})",
                contract_share.shape(),
                contract_wh.shape()[0]
            ),
        )
        .into());
    }
    if let Some(z) = &certificate_wh {
        if z.shape() != load_wh.shape() {
            return Err(CoreError::invalid(
                "certificate_wh",
                None,
                format!("has shape {:?}, load_wh has ({n}, {hours})", z.shape()),
            )
            .into());
        }
    }
    let load = contiguous(load_wh.as_slice(), "load_wh")?;
    let pv = contiguous(pv_wh.as_slice(), "pv_wh")?;
    let gen = contiguous(contract_wh.as_slice(), "contract_wh")?;
    let share = contiguous(contract_share.as_slice(), "contract_share")?;
    let parts = pv_share
        .as_ref()
        .map(|p| contiguous(p.as_slice(), "pv_share"))
        .transpose()?;
    let order: Option<Vec<usize>> = pv_priority
        .as_ref()
        .map(|p| {
            contiguous(p.as_slice(), "pv_priority").map(|o| o.iter().map(|&i| i as usize).collect())
        })
        .transpose()?;
    let cert = certificate_wh
        .as_ref()
        .map(|z| contiguous(z.as_slice(), "certificate_wh"))
        .transpose()?;
    let gate = gate_import_wh
        .as_ref()
        .map(|g| contiguous(g.as_slice(), "gate_import_wh"))
        .transpose()?;
    let pv_sharing = match (parts, order.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(CoreError::invalid(
                "pv_sharing",
                None,
                "give pv_share or pv_priority, not both",
            )
            .into())
        }
        (Some(p), None) => PvSharing::ContractShare(p),
        (None, Some(o)) => PvSharing::Priority(o),
        (None, None) => PvSharing::ProRata,
    };
    let input = s2::Scope2Input {
        n,
        hours,
        load_wh: load,
        pv_wh: pv,
        pv_sharing,
        contract_wh: gen,
        contract_share: share,
        certificate_wh: cert,
        gate_import_wh: gate,
        loss_policy: if gross_up_losses {
            LossPolicy::GrossUp
        } else {
            LossPolicy::Landlord
        },
        location_ug_per_wh,
        residual_ug_per_wh,
        detail,
    };
    let r = run_detached(py, || s2::scope2_compact(&input))?;
    let out = PyDict::new(py);
    let r = match r {
        s2::Scope2Cells::Narrow(r) => cells(py, &out, r)?,
        s2::Scope2Cells::Wide(r) => cells(py, &out, r)?,
    };
    for (name, v) in [
        ("export_wh", r.export_wh),
        ("green_wh", r.green_wh),
        ("excess_wh", r.excess_wh),
        ("loss_wh", r.loss_wh),
        ("loss_location_total_g", r.loss_location_total_g),
        ("loss_market_total_g", r.loss_market_total_g),
        ("landlord_location_g", r.landlord_location_g),
        ("landlord_market_g", r.landlord_market_g),
        ("tenant_load_wh", r.tenants.load_wh),
        ("tenant_pv_wh", r.tenants.pv_wh),
        ("tenant_green_wh", r.tenants.green_wh),
        ("tenant_matched_wh", r.tenants.matched_wh),
        ("tenant_annual_matched_wh", r.tenants.annual_matched_wh),
        ("tenant_location_g", r.tenants.location_g),
        ("tenant_market_g", r.tenants.market_g),
        ("tenant_loss_location_g", r.tenants.loss_location_g),
        ("tenant_loss_market_g", r.tenants.loss_market_g),
    ] {
        out.set_item(name, v.into_pyarray(py))?;
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(carbon_allocate_pro_rata, m)?)?;
    m.add_function(wrap_pyfunction!(carbon_shapley, m)?)?;
    m.add_function(wrap_pyfunction!(audit_merkle_root, m)?)?;
    m.add_function(wrap_pyfunction!(audit_merkle_proof, m)?)?;
    m.add_function(wrap_pyfunction!(audit_verify, m)?)?;
    m.add_function(wrap_pyfunction!(audit_chain_head, m)?)?;
    m.add_function(wrap_pyfunction!(carbon_scope2, m)?)?;
    m.add(
        "CARBON_SCOPE2_MAX_FACTOR_UG_PER_WH",
        s2::MAX_FACTOR_UG_PER_WH,
    )?;
    m.add("CARBON_MAX_TOTAL_G", pro_rata::MAX_TOTAL_G)?;
    m.add("CARBON_EXACT_MAX_TENANTS", shapley::EXACT_MAX_TENANTS)?;
    m.add("CARBON_SHAPLEY_MAX_SAMPLES", shapley::MAX_SAMPLES)?;
    Ok(())
}
