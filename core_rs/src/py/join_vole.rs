//! Bindings of `join::vole`: the sender and receiver of the VOLE-based PSI (RR22). Keys
//! cross as Arrow large-string buffers, messages as bytes; every step runs detached from
//! the GIL on the engine pool.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::detach::run_detached;
use super::join::{key_column, key_kind};
use crate::error::{CoreError, CoreResult};
use crate::join::vole::protocol::{Receiver, Sender};
use crate::join::vole::stream::{StreamReceiver, StreamSender};

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

/// 16-byte little-endian key hashes (a uint8 array) as `u128`s.
fn hashes_in(hashes: &PyReadonlyArray1<'_, u8>) -> CoreResult<Vec<u128>> {
    let bytes = hashes
        .as_slice()
        .map_err(|_| CoreError::invalid("hashes", None, "must be a C-contiguous array"))?;
    if bytes.len() % 16 != 0 {
        return Err(CoreError::invalid(
            "hashes",
            None,
            format!(
                "{} bytes is not a whole number of 16-byte hashes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let mut w = [0_u8; 16];
            w.copy_from_slice(c);
            u128::from_le_bytes(w)
        })
        .collect())
}

type HashedBatch<'py> = (Bound<'py, PyArray1<u8>>, Bound<'py, PyArray1<u32>>);

fn hashed_out(py: Python<'_>, (hashes, buckets): (Vec<u128>, Vec<u32>)) -> HashedBatch<'_> {
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
    (bytes.into_pyarray(py), buckets.into_pyarray(py))
}

/// The sender of a streaming VOLE-PSI session: one bucket's session at a time.
#[pyclass(module = "zone_opt._core")]
pub struct VoleStreamSender {
    inner: StreamSender,
}

#[pymethods]
impl VoleStreamSender {
    #[new]
    fn new(uscc: bool, buckets: u32) -> PyResult<Self> {
        Ok(Self {
            inner: StreamSender::new(key_kind(uscc), buckets)?,
        })
    }

    /// `(hashes, buckets)`: 16-byte hashes of one record batch's keys and their buckets.
    fn hash_batch<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, u8>,
        first_row: usize,
    ) -> PyResult<HashedBatch<'py>> {
        let keys = key_column(&offsets, &data)?;
        let inner = &self.inner;
        let out = run_detached(py, || inner.hash_batch(keys, first_row))?;
        Ok(hashed_out(py, out))
    }

    /// Fix the padded bucket size from this side's number of distinct keys.
    fn begin(&mut self, distinct: u64) -> PyResult<()> {
        Ok(self.inner.begin(distinct)?)
    }

    /// Setup message of bucket `part` over its 16-byte key hashes.
    fn setup_part<'py>(
        &mut self,
        py: Python<'py>,
        part: u32,
        hashes: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let hashes = hashes_in(&hashes)?;
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.setup_part(part, hashes))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Answer the open bucket's request or correction.
    fn respond_part<'py>(
        &mut self,
        py: Python<'py>,
        message: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.respond_part(message))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The padded size of every bucket (0 before `begin`).
    #[getter]
    fn padded_len(&self) -> usize {
        self.inner.padded_len()
    }

    /// The receiver's padded sizes over the buckets answered so far.
    #[getter]
    fn receiver_len(&self) -> usize {
        self.inner.receiver_len()
    }

    /// Every bucket was answered.
    #[getter]
    fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }
}

/// The receiver of a streaming VOLE-PSI session: one bucket's session at a time.
#[pyclass(module = "zone_opt._core")]
pub struct VoleStreamReceiver {
    inner: StreamReceiver,
}

#[pymethods]
impl VoleStreamReceiver {
    #[new]
    fn new(uscc: bool, buckets: u32) -> PyResult<Self> {
        Ok(Self {
            inner: StreamReceiver::new(key_kind(uscc), buckets)?,
        })
    }

    /// `(hashes, buckets)`: 16-byte hashes of one record batch's keys and their buckets.
    fn hash_batch<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, u8>,
        first_row: usize,
    ) -> PyResult<HashedBatch<'py>> {
        let keys = key_column(&offsets, &data)?;
        let inner = &self.inner;
        let out = run_detached(py, || inner.hash_batch(keys, first_row))?;
        Ok(hashed_out(py, out))
    }

    /// Fix the padded bucket size from this side's number of distinct keys.
    fn begin(&mut self, distinct: u64) -> PyResult<()> {
        Ok(self.inner.begin(distinct)?)
    }

    /// The next bucket's request, from the sender's setup part and the bucket's hashes.
    fn request_part<'py>(
        &mut self,
        py: Python<'py>,
        setup: &[u8],
        hashes: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let hashes = hashes_in(&hashes)?;
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.request_part(setup, &hashes))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The open bucket's correction, from the sender's VOLE message.
    fn correction_part<'py>(
        &mut self,
        py: Python<'py>,
        vole: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.correction_part(vole))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The open bucket's matching positions (in its hashes), ascending.
    fn finish_part<'py>(
        &mut self,
        py: Python<'py>,
        response: &[u8],
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.finish_part(response))?;
        Ok(out.into_pyarray(py))
    }

    /// The padded size of every bucket (0 before `begin`).
    #[getter]
    fn padded_len(&self) -> usize {
        self.inner.padded_len()
    }

    /// The sender's padded sizes over the buckets finished so far.
    #[getter]
    fn sender_len(&self) -> usize {
        self.inner.sender_len()
    }

    /// Every bucket was finished.
    #[getter]
    fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<VoleJoinSender>()?;
    m.add_class::<VoleJoinReceiver>()?;
    m.add_class::<VoleStreamSender>()?;
    m.add_class::<VoleStreamReceiver>()?;
    Ok(())
}
