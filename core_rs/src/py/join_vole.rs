//! Bindings of `join::vole`: the sender and receiver of the VOLE-based PSI (RR22). Keys
//! cross as Arrow large-string buffers, messages as bytes; every step runs detached from
//! the GIL on the engine pool.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::detach::run_detached;
use super::join::{key_column, key_kind};
use crate::join::vole::protocol::{Receiver, Sender};

/// The sending party of one VOLE-PSI session (fresh delta per instance).
#[pyclass(module = "zone_opt._core")]
pub struct VoleJoinSender {
    inner: Sender,
}

#[pymethods]
impl VoleJoinSender {
    #[new]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        data: PyReadonlyArray1<'_, u8>,
        uscc: bool,
    ) -> PyResult<Self> {
        let keys = key_column(&offsets, &data)?;
        let inner = run_detached(py, || Sender::new(keys, key_kind(uscc)))?;
        Ok(Self { inner })
    }

    /// Message 1: the sender's size and base-OT message (the same bytes on every call).
    fn setup_message<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.setup_message())?;
        Ok(PyBytes::new(py, &out))
    }

    /// Answer the receiver's request (message 2 -> 3) or correction (message 4 -> 5).
    fn respond<'py>(&mut self, py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.respond(message))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The receiver's number of distinct keys (0 before its request).
    #[getter]
    fn receiver_len(&self) -> usize {
        self.inner.receiver_len()
    }

    /// Number of distinct canonical keys.
    #[getter]
    fn distinct_len(&self) -> usize {
        self.inner.distinct_len()
    }

    /// The session id (16 bytes).
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.session())
    }
}

/// The receiving party of one VOLE-PSI session.
#[pyclass(module = "zone_opt._core")]
pub struct VoleJoinReceiver {
    inner: Receiver,
}

#[pymethods]
impl VoleJoinReceiver {
    #[new]
    fn new(
        py: Python<'_>,
        offsets: PyReadonlyArray1<'_, i64>,
        data: PyReadonlyArray1<'_, u8>,
        uscc: bool,
    ) -> PyResult<Self> {
        let keys = key_column(&offsets, &data)?;
        let inner = run_detached(py, || Receiver::new(keys, key_kind(uscc)))?;
        Ok(Self { inner })
    }

    /// Answer the sender's setup (message 1 -> 2).
    fn request<'py>(&mut self, py: Python<'py>, setup: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.request(setup))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Answer the sender's VOLE message (message 3 -> 4).
    fn correction<'py>(&mut self, py: Python<'py>, vole: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.correction(vole))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The receiver's rows (ascending) whose key the sender holds.
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        setup: &[u8],
        response: &[u8],
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.finish(setup, response))?;
        Ok(out.into_pyarray(py))
    }

    /// The sender's number of distinct keys (0 before its setup).
    #[getter]
    fn sender_len(&self) -> usize {
        self.inner.sender_len()
    }

    /// The session id (16 bytes).
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.session())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<VoleJoinSender>()?;
    m.add_class::<VoleJoinReceiver>()?;
    Ok(())
}
