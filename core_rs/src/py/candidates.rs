//! Bindings of `candidates`: the candidate index, generation and pair scores.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::detach::run_detached;
use crate::candidates::{self as engine, DivisionMask, Weights};
use crate::error::CoreError;

fn vec1<T: numpy::Element + Copy>(a: &PyReadonlyArray1<'_, T>, name: &str) -> PyResult<Vec<T>> {
    Ok(a.as_slice()
        .map_err(|_| CoreError::invalid(name, None, "must be contiguous"))?
        .to_vec())
}

fn masks(a: &PyReadonlyArray2<'_, u64>, name: &str) -> PyResult<Vec<DivisionMask>> {
    let v = a.as_array();
    if v.ncols() != 2 {
        return Err(CoreError::invalid(name, None, "must have shape (n, 2)").into());
    }
    Ok(v.rows().into_iter().map(|r| [r[0], r[1]]).collect())
}

fn usizes(a: &PyReadonlyArray1<'_, i64>, name: &str) -> PyResult<Vec<usize>> {
    vec1(a, name)?
        .into_iter()
        .enumerate()
        .map(|(i, x)| {
            usize::try_from(x)
                .map_err(|_| CoreError::invalid(name, Some(i), "must be non-negative").into())
        })
        .collect()
}

/// Parks, spaces and enterprises converted once for repeated candidate generation.
#[pyclass(name = "CandidateIndex", module = "zone_opt._core", frozen)]
pub struct PyCandidateIndex {
    inner: engine::CandidateIndex,
}

#[pymethods]
impl PyCandidateIndex {
    #[new]
    #[pyo3(signature = (
        *, park_lat, park_lon, park_industry_mask, park_remaining_co2e_t, park_tenant_indptr,
        park_tenant_div, park_tenant_share, space_park, space_area_m2, space_floor_load_kn_m2,
        space_ceiling_height_m, space_power_kva, space_rent_cny_per_m2_month,
        space_hazardous_permit, space_available_from_day, space_kind, ent_area_min_m2,
        ent_area_max_m2, ent_min_floor_load_kn_m2, ent_min_ceiling_height_m, ent_power_need_kva,
        ent_max_rent_cny_per_m2_month, ent_lat, ent_lon, ent_radius_km, ent_hazardous_process,
        ent_division, ent_kinds_mask, ent_chain_mask, ent_annual_co2e_t, affinity
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        park_lat: PyReadonlyArray1<'_, f64>,
        park_lon: PyReadonlyArray1<'_, f64>,
        park_industry_mask: PyReadonlyArray2<'_, u64>,
        park_remaining_co2e_t: PyReadonlyArray1<'_, f64>,
        park_tenant_indptr: PyReadonlyArray1<'_, i64>,
        park_tenant_div: PyReadonlyArray1<'_, u8>,
        park_tenant_share: PyReadonlyArray1<'_, f64>,
        space_park: PyReadonlyArray1<'_, u32>,
        space_area_m2: PyReadonlyArray1<'_, f64>,
        space_floor_load_kn_m2: PyReadonlyArray1<'_, f64>,
        space_ceiling_height_m: PyReadonlyArray1<'_, f64>,
        space_power_kva: PyReadonlyArray1<'_, f64>,
        space_rent_cny_per_m2_month: PyReadonlyArray1<'_, f64>,
        space_hazardous_permit: PyReadonlyArray1<'_, bool>,
        space_available_from_day: PyReadonlyArray1<'_, i32>,
        space_kind: PyReadonlyArray1<'_, u8>,
        ent_area_min_m2: PyReadonlyArray1<'_, f64>,
        ent_area_max_m2: PyReadonlyArray1<'_, f64>,
        ent_min_floor_load_kn_m2: PyReadonlyArray1<'_, f64>,
        ent_min_ceiling_height_m: PyReadonlyArray1<'_, f64>,
        ent_power_need_kva: PyReadonlyArray1<'_, f64>,
        ent_max_rent_cny_per_m2_month: PyReadonlyArray1<'_, f64>,
        ent_lat: PyReadonlyArray1<'_, f64>,
        ent_lon: PyReadonlyArray1<'_, f64>,
        ent_radius_km: PyReadonlyArray1<'_, f64>,
        ent_hazardous_process: PyReadonlyArray1<'_, bool>,
        ent_division: PyReadonlyArray1<'_, u8>,
        ent_kinds_mask: PyReadonlyArray1<'_, u8>,
        ent_chain_mask: PyReadonlyArray2<'_, u64>,
        ent_annual_co2e_t: PyReadonlyArray1<'_, f64>,
        affinity: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let parks = engine::Parks {
            lat: vec1(&park_lat, "park_lat")?,
            lon: vec1(&park_lon, "park_lon")?,
            industry_mask: masks(&park_industry_mask, "park_industry_mask")?,
            remaining_co2e_t: vec1(&park_remaining_co2e_t, "park_remaining_co2e_t")?,
            tenant_indptr: usizes(&park_tenant_indptr, "park_tenant_indptr")?,
            tenant_div: vec1(&park_tenant_div, "park_tenant_div")?,
            tenant_share: vec1(&park_tenant_share, "park_tenant_share")?,
        };
        let spaces = engine::Spaces {
            park: vec1(&space_park, "space_park")?,
            area_m2: vec1(&space_area_m2, "space_area_m2")?,
            floor_load_kn_m2: vec1(&space_floor_load_kn_m2, "space_floor_load_kn_m2")?,
            ceiling_height_m: vec1(&space_ceiling_height_m, "space_ceiling_height_m")?,
            power_kva: vec1(&space_power_kva, "space_power_kva")?,
            rent_cny_per_m2_month: vec1(&space_rent_cny_per_m2_month, "space_rent")?,
            hazardous_permit: vec1(&space_hazardous_permit, "space_hazardous_permit")?,
            available_from_day: vec1(&space_available_from_day, "space_available_from_day")?,
            kind: vec1(&space_kind, "space_kind")?,
        };
        let enterprises = engine::Enterprises {
            area_min_m2: vec1(&ent_area_min_m2, "ent_area_min_m2")?,
            area_max_m2: vec1(&ent_area_max_m2, "ent_area_max_m2")?,
            min_floor_load_kn_m2: vec1(&ent_min_floor_load_kn_m2, "ent_min_floor_load_kn_m2")?,
            min_ceiling_height_m: vec1(&ent_min_ceiling_height_m, "ent_min_ceiling_height_m")?,
            power_need_kva: vec1(&ent_power_need_kva, "ent_power_need_kva")?,
            max_rent_cny_per_m2_month: vec1(&ent_max_rent_cny_per_m2_month, "ent_max_rent")?,
            lat: vec1(&ent_lat, "ent_lat")?,
            lon: vec1(&ent_lon, "ent_lon")?,
            radius_km: vec1(&ent_radius_km, "ent_radius_km")?,
            hazardous_process: vec1(&ent_hazardous_process, "ent_hazardous_process")?,
            division: vec1(&ent_division, "ent_division")?,
            kinds_mask: vec1(&ent_kinds_mask, "ent_kinds_mask")?,
            chain_mask: masks(&ent_chain_mask, "ent_chain_mask")?,
            annual_co2e_t: vec1(&ent_annual_co2e_t, "ent_annual_co2e_t")?,
        };
        let affinity = vec1(&affinity, "affinity")?;
        let inner = run_detached(py, move || {
            engine::CandidateIndex::new(parks, spaces, enterprises, affinity)
        })?;
        Ok(Self { inner })
    }

    #[getter]
    fn n_enterprises(&self) -> usize {
        self.inner.n_enterprises()
    }

    #[getter]
    fn n_spaces(&self) -> usize {
        self.inner.n_spaces()
    }

    /// (indptr, cols, scores, chain, reason, n_feasible): CSR by enterprise, best k (0 = all).
    #[pyo3(signature = (weights, k, now_day, space_active=None, enterprise_active=None))]
    #[allow(clippy::type_complexity)]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        weights: [f64; 5],
        k: usize,
        now_day: i32,
        space_active: Option<PyReadonlyArray1<'py, bool>>,
        enterprise_active: Option<PyReadonlyArray1<'py, bool>>,
    ) -> PyResult<(
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<u8>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        let active = match &space_active {
            Some(a) => Some(
                a.as_slice()
                    .map_err(|_| CoreError::invalid("space_active", None, "must be contiguous"))?,
            ),
            None => None,
        };
        let ent_active = match &enterprise_active {
            Some(a) => Some(a.as_slice().map_err(|_| {
                CoreError::invalid("enterprise_active", None, "must be contiguous")
            })?),
            None => None,
        };
        let w = Weights(weights);
        let ix = &self.inner;
        let c = run_detached(py, || {
            engine::generate(ix, &w, k, now_day, active, ent_active)
        })?;
        Ok((
            c.indptr.into_pyarray(py),
            c.cols.into_pyarray(py),
            c.scores.into_pyarray(py),
            c.chain.into_pyarray(py),
            c.reason.into_pyarray(py),
            c.n_feasible.into_pyarray(py),
        ))
    }

    /// (distance_km, components (n, 5), scores) of the given pairs.
    #[allow(clippy::type_complexity)]
    fn score_pairs<'py>(
        &self,
        py: Python<'py>,
        weights: [f64; 5],
        enterprise: PyReadonlyArray1<'py, i64>,
        space: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray1<i64>>,
    )> {
        let e = enterprise
            .as_slice()
            .map_err(|_| CoreError::invalid("enterprise", None, "must be contiguous"))?;
        let s = space
            .as_slice()
            .map_err(|_| CoreError::invalid("space", None, "must be contiguous"))?;
        let w = Weights(weights);
        let ix = &self.inner;
        let r = run_detached(py, || engine::score_pairs(ix, &w, e, s))?;
        let n = r.scores.len();
        let comps = r
            .components
            .into_pyarray(py)
            .reshape([n, engine::COMPONENTS.len()])?;
        Ok((
            r.distance_km.into_pyarray(py),
            comps,
            r.scores.into_pyarray(py),
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCandidateIndex>()?;
    m.add("CANDIDATE_REASONS", engine::REASON_NAMES.to_vec())?;
    m.add("SCORE_COMPONENTS", engine::COMPONENTS.to_vec())?;
    m.add("SCORE_SCALE", engine::SCORE_SCALE as i64)?;
    Ok(())
}
