//! Bindings of `candidates`: the candidate index, generation and pair scores.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

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

/// What `generate` returns: CSR by enterprise (indptr, space columns, scores), then per
/// pair the chain bits and per enterprise its reason code and feasible count.
type Candidates<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
);

/// What `score_pairs` returns: distance (km), the five components `(n, 5)`, the scores.
type PairScores<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<i64>>,
);

/// Parks, spaces and enterprises converted once for repeated candidate generation.
#[pyclass(name = "CandidateIndex", module = "zone_opt._core", frozen)]
pub struct PyCandidateIndex {
    inner: engine::CandidateIndex,
}

/// One table of columns by name (a `dict` of numpy arrays): each column taken once, by
/// the name the caller's table uses; a missing column, a wrong dtype or a name the index
/// does not read is an error naming `table.column`.
struct Columns<'py> {
    table: &'static str,
    dict: Bound<'py, PyDict>,
    taken: Vec<&'static str>,
}

impl<'py> Columns<'py> {
    fn new(table: &'static str, dict: Bound<'py, PyDict>) -> Self {
        Self {
            table,
            dict,
            taken: Vec::new(),
        }
    }

    fn field(&self, column: &str) -> String {
        format!("{}.{column}", self.table)
    }

    fn item(&mut self, column: &'static str) -> PyResult<Bound<'py, PyAny>> {
        self.taken.push(column);
        self.dict
            .get_item(column)?
            .ok_or_else(|| CoreError::invalid(self.field(column), None, "missing").into())
    }

    fn vec<T: numpy::Element + Copy>(&mut self, column: &'static str) -> PyResult<Vec<T>> {
        let item = self.item(column)?;
        let field = self.field(column);
        let array: PyReadonlyArray1<'py, T> = item.extract().map_err(|_| {
            let dtype = std::any::type_name::<T>();
            CoreError::invalid(field.as_str(), None, format!("must be a 1-d {dtype} array"))
        })?;
        vec1(&array, &field)
    }

    fn masks(&mut self, column: &'static str) -> PyResult<Vec<DivisionMask>> {
        let item = self.item(column)?;
        let field = self.field(column);
        let array: PyReadonlyArray2<'py, u64> = item
            .extract()
            .map_err(|_| CoreError::invalid(field.as_str(), None, "must be a 2-d uint64 array"))?;
        masks(&array, &field)
    }

    fn indptr(&mut self, column: &'static str) -> PyResult<Vec<usize>> {
        let item = self.item(column)?;
        let field = self.field(column);
        let array: PyReadonlyArray1<'py, i64> = item
            .extract()
            .map_err(|_| CoreError::invalid(field.as_str(), None, "must be a 1-d int64 array"))?;
        usizes(&array, &field)
    }

    /// Every key was read: a name the index does not know (a typo) is refused.
    fn finish(self) -> PyResult<()> {
        for key in self.dict.keys() {
            let name: String = key.extract()?;
            if !self.taken.contains(&name.as_str()) {
                return Err(CoreError::invalid(
                    self.field(&name),
                    None,
                    format!("not a column the index reads ({})", self.taken.join(", ")),
                )
                .into());
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyCandidateIndex {
    /// The index over three tables of named columns (see the stub for each table's
    /// columns, dtypes and units) and the division affinity matrix (97 x 97, or empty).
    #[new]
    #[pyo3(signature = (*, parks, spaces, enterprises, affinity))]
    fn new(
        py: Python<'_>,
        parks: Bound<'_, PyDict>,
        spaces: Bound<'_, PyDict>,
        enterprises: Bound<'_, PyDict>,
        affinity: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let mut p = Columns::new("parks", parks);
        let parks = engine::Parks {
            lat: p.vec("lat")?,
            lon: p.vec("lon")?,
            industry_mask: p.masks("industry_mask")?,
            remaining_co2e_t: p.vec("remaining_co2e_t")?,
            tenant_indptr: p.indptr("tenant_indptr")?,
            tenant_div: p.vec("tenant_div")?,
            tenant_share: p.vec("tenant_share")?,
        };
        p.finish()?;
        let mut s = Columns::new("spaces", spaces);
        let spaces = engine::Spaces {
            park: s.vec("park")?,
            area_m2: s.vec("area_m2")?,
            floor_load_kn_m2: s.vec("floor_load_kn_m2")?,
            ceiling_height_m: s.vec("ceiling_height_m")?,
            power_kva: s.vec("power_kva")?,
            rent_cny_per_m2_month: s.vec("rent_cny_per_m2_month")?,
            hazardous_permit: s.vec("hazardous_permit")?,
            available_from_day: s.vec("available_from_day")?,
            kind: s.vec("kind")?,
        };
        s.finish()?;
        let mut e = Columns::new("enterprises", enterprises);
        let enterprises = engine::Enterprises {
            area_min_m2: e.vec("area_min_m2")?,
            area_max_m2: e.vec("area_max_m2")?,
            min_floor_load_kn_m2: e.vec("min_floor_load_kn_m2")?,
            min_ceiling_height_m: e.vec("min_ceiling_height_m")?,
            power_need_kva: e.vec("power_need_kva")?,
            max_rent_cny_per_m2_month: e.vec("max_rent_cny_per_m2_month")?,
            lat: e.vec("lat")?,
            lon: e.vec("lon")?,
            radius_km: e.vec("radius_km")?,
            hazardous_process: e.vec("hazardous_process")?,
            division: e.vec("division")?,
            kinds_mask: e.vec("kinds_mask")?,
            chain_mask: e.masks("chain_mask")?,
            annual_co2e_t: e.vec("annual_co2e_t")?,
        };
        e.finish()?;
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
    fn generate<'py>(
        &self,
        py: Python<'py>,
        weights: [f64; 5],
        k: usize,
        now_day: i32,
        space_active: Option<PyReadonlyArray1<'py, bool>>,
        enterprise_active: Option<PyReadonlyArray1<'py, bool>>,
    ) -> PyResult<Candidates<'py>> {
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
    fn score_pairs<'py>(
        &self,
        py: Python<'py>,
        weights: [f64; 5],
        enterprise: PyReadonlyArray1<'py, i64>,
        space: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<PairScores<'py>> {
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
