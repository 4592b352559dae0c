//! Bindings of `join`: the sender and receiver state machines (in memory and streaming,
//! with the streaming session's worker copies opened from sealed bytes) and the sealing of
//! secrets to a worker's key (`SealKey`, `seal`); the RFC 9497 suite's operations are in
//! `join_rfc9497.rs`. Keys cross as Arrow large-string buffers (offsets + UTF-8
//! data), messages as bytes; every protocol step runs detached from the GIL on the engine
//! pool.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::arrays::slice;
use super::detach::run_detached;
use super::join_rfc9497;
use crate::error::CoreResult;
use crate::join::seal::SealKey;
use crate::join::stream::{LABEL_RECEIVER, LABEL_SENDER};
use crate::join::{
    KeyKind, Mode, Options, Payload, PayloadColumn, Receiver, Sender, StrColumn, StreamReceiver,
    StreamSender, Suite,
};

/// A key column from its Arrow buffers (`offsets`, UTF-8 `data`), borrowed in place.
pub(super) fn key_column<'a>(
    offsets: &'a PyReadonlyArray1<'_, i64>,
    data: &'a PyReadonlyArray1<'_, u8>,
) -> CoreResult<StrColumn<'a>> {
    Ok(StrColumn {
        offsets: slice(offsets, "keys")?,
        data: slice(data, "keys")?,
    })
}

/// How keys are canonicalised: unified social credit codes (checked) or plain text.
pub(super) fn key_kind(uscc: bool) -> KeyKind {
    if uscc {
        KeyKind::Uscc
    } else {
        KeyKind::Text
    }
}

fn options(mode: &str, verifiable: bool, uscc: bool) -> CoreResult<Options> {
    options_with_suite(mode, verifiable, uscc, None)
}

/// Options with the named suite, or the default for `verifiable` when `None`.
fn options_with_suite(
    mode: &str,
    verifiable: bool,
    uscc: bool,
    suite: Option<&str>,
) -> CoreResult<Options> {
    Ok(Options {
        mode: Mode::parse(mode)?,
        verifiable,
        key_kind: key_kind(uscc),
        suite: match suite {
            Some(name) => Suite::parse(name)?,
            None => Suite::default_for(verifiable),
        },
    })
}

/// A key column as Arrow buffers: `(offsets, data)`.
type KeysIn<'py> = (PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, u8>);

/// The session options both parties give, read from a `dict` by name: `mode`,
/// `verifiable`, `uscc` (required); `suite` (default: per `verifiable`, and a receiver then
/// follows the setup's); `min_intersection` (sender, default 0); `left_join` (receiver,
/// default false).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SessionOptions {
    mode: String,
    verifiable: bool,
    uscc: bool,
    #[pyo3(default)]
    suite: Option<String>,
    #[pyo3(default)]
    min_intersection: u64,
    #[pyo3(default)]
    left_join: bool,
}

impl SessionOptions {
    fn protocol(&self) -> PyResult<Options> {
        Ok(options_with_suite(
            &self.mode,
            self.verifiable,
            self.uscc,
            self.suite.as_deref(),
        )?)
    }
}

type ColumnIn<'py> = (
    PyReadonlyArray1<'py, i64>,
    PyReadonlyArray1<'py, u8>,
    Option<PyReadonlyArray1<'py, bool>>,
);

/// The sending party of one PSI session (fresh key per instance).
#[pyclass(module = "zone_opt._core")]
pub struct JoinSender {
    inner: Sender,
}

#[pymethods]
impl JoinSender {
    #[new]
    #[pyo3(signature = (keys, options, payload=None, schema=Vec::new()))]
    fn new(
        py: Python<'_>,
        keys: KeysIn<'_>,
        options: SessionOptions,
        payload: Option<Vec<ColumnIn<'_>>>,
        schema: Vec<u8>,
    ) -> PyResult<Self> {
        let (offsets, data) = keys;
        let min_intersection = options.min_intersection;
        let options = options.protocol()?;
        let payload = match payload {
            None => None,
            Some(cols) => {
                let mut columns = Vec::with_capacity(cols.len());
                for (i, (o, d, v)) in cols.iter().enumerate() {
                    let field = format!("payload[{i}]");
                    columns.push(PayloadColumn {
                        offsets: slice(o, &field)?.to_vec(),
                        data: slice(d, &field)?.to_vec(),
                        valid: match v {
                            Some(v) => Some(slice(v, &field)?.to_vec()),
                            None => None,
                        },
                    });
                }
                Some(Payload { columns, schema })
            }
        };
        let keys = key_column(&offsets, &data)?;
        let inner = run_detached(py, || Sender::new(keys, payload, options, min_intersection))?;
        Ok(Self { inner })
    }

    /// The setup message (the sender's table), computed once per session.
    fn setup_message<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.setup_message())?;
        Ok(PyBytes::new(py, &out))
    }

    /// Answer the receiver's request (once per session).
    fn respond<'py>(&mut self, py: Python<'py>, request: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.respond(request))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The receiver's number of distinct keys (0 before its request).
    #[getter]
    fn receiver_len(&self) -> usize {
        self.inner.receiver_len()
    }

    /// The hash suite (`"rfc9497"` or `"zone-opt-v1"`).
    #[getter]
    fn suite(&self) -> &'static str {
        self.inner.suite().name()
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

type FinishOut<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    usize,
    Vec<u32>,
    Bound<'py, PyBytes>,
    Option<u64>,
    Option<u64>,
);

/// The receiving party of one PSI session (fresh blind per instance).
#[pyclass(module = "zone_opt._core")]
pub struct JoinReceiver {
    inner: Receiver,
}

#[pymethods]
impl JoinReceiver {
    #[new]
    #[pyo3(signature = (keys, options, values=None))]
    fn new(
        py: Python<'_>,
        keys: KeysIn<'_>,
        options: SessionOptions,
        values: Option<PyReadonlyArray1<'_, u64>>,
    ) -> PyResult<Self> {
        let (offsets, data) = keys;
        let (left_join, follow) = (options.left_join, options.suite.is_none());
        let options = options.protocol()?;
        let keys = key_column(&offsets, &data)?;
        let values = match &values {
            Some(v) => Some(slice(v, "values")?),
            None => None,
        };
        let mut inner = run_detached(py, || Receiver::new(keys, values, options, left_join))?;
        if follow {
            inner.follow_setup_suite();
        }
        Ok(Self { inner })
    }

    /// The hash suite (`"rfc9497"` or `"zone-opt-v1"`; after the request, the one used).
    #[getter]
    fn suite(&self) -> &'static str {
        self.inner.suite().name()
    }

    /// The blinded request; sum mode needs the setup message first.
    #[pyo3(signature = (setup=None))]
    fn request<'py>(
        &mut self,
        py: Python<'py>,
        setup: Option<&[u8]>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.request(setup))?;
        Ok(PyBytes::new(py, &out))
    }

    /// `(indices, records, record_len, widths, schema, count, sum)`.
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        setup: &[u8],
        response: &[u8],
    ) -> PyResult<FinishOut<'py>> {
        let inner = &mut self.inner;
        let o = run_detached(py, || inner.finish(setup, response))?;
        Ok((
            o.indices.into_pyarray(py),
            o.records.into_pyarray(py),
            o.record_len,
            o.widths,
            PyBytes::new(py, &o.schema),
            o.count,
            o.sum,
        ))
    }

    /// The session id (16 bytes).
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.session())
    }
}

/// The sender of a streaming (bucketed) intersection session.
#[pyclass(module = "zone_opt._core")]
pub struct JoinStreamSender {
    inner: StreamSender,
}

#[pymethods]
impl JoinStreamSender {
    #[new]
    fn new(mode: &str, verifiable: bool, uscc: bool, buckets: u32) -> PyResult<Self> {
        let inner = StreamSender::new(options(mode, verifiable, uscc)?, buckets)?;
        Ok(Self { inner })
    }

    /// 12-byte tags of one record batch's keys, in row order.
    fn tags<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, u8>,
        first_row: usize,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let keys = key_column(&offsets, &data)?;
        let inner = &self.inner;
        let out = run_detached(py, || inner.tags(keys, first_row))?;
        Ok(out.into_pyarray(py))
    }

    /// Setup part `part` from that bucket's tags.
    fn setup_part<'py>(
        &self,
        py: Python<'py>,
        part: u32,
        tags: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let tags = slice(&tags, "tags")?;
        let inner = &self.inner;
        let out = run_detached(py, || inner.setup_part(part, tags))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Seal this session's secret to a worker's public key (`SealKey.public`).
    fn seal_to<'py>(&self, py: Python<'py>, public: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.inner.seal_to(public)?))
    }

    /// A worker's copy of a session from bytes sealed to `key`.
    #[staticmethod]
    fn open_sealed(key: &PySealKey, sealed: &[u8]) -> PyResult<Self> {
        let inner = StreamSender::open_sealed(&key.inner, sealed)?;
        Ok(Self { inner })
    }

    /// Check and record a request as `respond_part` does, without evaluating it: its bucket.
    fn admit_part(&mut self, request: &[u8]) -> PyResult<u32> {
        Ok(self.inner.admit_part(request)?)
    }

    /// Answer one bucket's request.
    fn respond_part<'py>(
        &mut self,
        py: Python<'py>,
        request: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.respond_part(request))?;
        Ok(PyBytes::new(py, &out))
    }

    /// The receiver's number of distinct keys, over the answered buckets.
    #[getter]
    fn receiver_len(&self) -> usize {
        self.inner.receiver_len()
    }

    /// The session id (16 bytes).
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.session())
    }
}

type Partitioned<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<u32>>,
);

/// The receiver of a streaming (bucketed) intersection session.
#[pyclass(module = "zone_opt._core")]
pub struct JoinStreamReceiver {
    inner: StreamReceiver,
}

#[pymethods]
impl JoinStreamReceiver {
    #[new]
    fn new(mode: &str, verifiable: bool, uscc: bool, buckets: u32) -> PyResult<Self> {
        let inner = StreamReceiver::new(options(mode, verifiable, uscc)?, buckets)?;
        Ok(Self { inner })
    }

    /// `(offsets, data, bucket)`: canonical keys of a record batch and their buckets.
    fn partition<'py>(
        &self,
        py: Python<'py>,
        offsets: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, u8>,
        first_row: usize,
    ) -> PyResult<Partitioned<'py>> {
        let keys = key_column(&offsets, &data)?;
        let inner = &self.inner;
        let (o, d, b) = run_detached(py, || inner.partition(keys, first_row))?;
        Ok((o.into_pyarray(py), d.into_pyarray(py), b.into_pyarray(py)))
    }

    /// The request of bucket `part` over its canonical keys.
    fn request_part<'py>(
        &mut self,
        py: Python<'py>,
        part: u32,
        offsets: PyReadonlyArray1<'py, i64>,
        data: PyReadonlyArray1<'py, u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let keys = key_column(&offsets, &data)?;
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.request_part(part, keys))?;
        Ok(PyBytes::new(py, &out))
    }

    /// One 12-byte tag per key of the pending bucket.
    fn receive_part<'py>(
        &mut self,
        py: Python<'py>,
        response: &[u8],
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.receive_part(response))?;
        Ok(out.into_pyarray(py))
    }

    /// Seal this session's secret to a worker's public key (`SealKey.public`).
    fn seal_to<'py>(&self, py: Python<'py>, public: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.inner.seal_to(public)?))
    }

    /// A worker's copy of a session from bytes sealed to `key`.
    #[staticmethod]
    fn open_sealed(key: &PySealKey, sealed: &[u8]) -> PyResult<Self> {
        let inner = StreamReceiver::open_sealed(&key.inner, sealed)?;
        Ok(Self { inner })
    }

    /// `(sender session, tags)`: bucket `part`'s response unblinded over its keys.
    fn receive_for<'py>(
        &self,
        py: Python<'py>,
        part: u32,
        keys: KeysIn<'py>,
        response: &[u8],
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyArray1<u8>>)> {
        let (offsets, data) = keys;
        let keys = key_column(&offsets, &data)?;
        let inner = &self.inner;
        let (session, tags) = run_detached(py, || inner.receive_for(part, keys, response))?;
        Ok((PyBytes::new(py, &session), tags.into_pyarray(py)))
    }

    /// The rows among `rows` whose tags are in setup part `part` of `sender_session`.
    fn match_for<'py>(
        &self,
        py: Python<'py>,
        part: u32,
        sender_session: &[u8],
        setup: &[u8],
        tags_rows: (PyReadonlyArray1<'py, u8>, PyReadonlyArray1<'py, i64>),
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let tags = slice(&tags_rows.0, "tags")?;
        let rows = slice(&tags_rows.1, "rows")?;
        let inner = &self.inner;
        let out = run_detached(py, || {
            inner.match_for(part, sender_session, setup, tags, rows)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// The rows among `rows` whose tags are in setup part `t` (parts in order).
    fn match_part<'py>(
        &mut self,
        py: Python<'py>,
        setup: &[u8],
        tags: PyReadonlyArray1<'py, u8>,
        rows: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let tags = slice(&tags, "tags")?;
        let rows = slice(&rows, "rows")?;
        let inner = &mut self.inner;
        let out = run_detached(py, || inner.match_part(setup, tags, rows))?;
        Ok(out.into_pyarray(py))
    }

    /// Whether every setup part has been matched.
    #[getter]
    fn is_complete(&self) -> bool {
        self.inner.is_complete()
    }

    /// The session id (16 bytes).
    #[getter]
    fn session<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.session())
    }
}

/// A worker process's keypair for sealed secrets; made in its process, never pickled.
#[pyclass(module = "zone_opt._core", name = "SealKey")]
pub struct PySealKey {
    inner: SealKey,
}

#[pymethods]
impl PySealKey {
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Self {
            inner: SealKey::generate()?,
        })
    }

    /// The keypair derived from a secret the party stores (>= 32 random bytes).
    #[staticmethod]
    fn from_secret(secret: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: SealKey::from_secret(secret)?,
        })
    }

    /// The public key (32 bytes), to seal to.
    #[getter]
    fn public<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.public())
    }

    /// The public key's id (16 bytes), which sealed bytes name.
    #[getter]
    fn key_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.key_id())
    }

    /// The plaintext of bytes sealed to this key under `label`.
    fn open<'py>(
        &self,
        py: Python<'py>,
        label: &[u8],
        sealed: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let plain = self.inner.open(label, sealed)?;
        Ok(PyBytes::new(py, &plain))
    }
}

/// `plain` sealed to the holder of `public` under `label`.
#[pyfunction]
fn seal<'py>(
    py: Python<'py>,
    public: &[u8],
    label: &[u8],
    plain: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(
        py,
        &crate::join::seal::seal(public, label, plain)?,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<JoinSender>()?;
    m.add_class::<JoinReceiver>()?;
    m.add_class::<JoinStreamSender>()?;
    m.add_class::<JoinStreamReceiver>()?;
    m.add("JOIN_TAG_LEN", crate::join::TAG_LEN)?;
    m.add_class::<PySealKey>()?;
    m.add_function(wrap_pyfunction!(seal, m)?)?;
    m.add(
        "JOIN_STREAM_SENDER_SEAL_LABEL",
        PyBytes::new(m.py(), LABEL_SENDER),
    )?;
    m.add(
        "JOIN_STREAM_RECEIVER_SEAL_LABEL",
        PyBytes::new(m.py(), LABEL_RECEIVER),
    )?;
    join_rfc9497::register(m)?;
    Ok(())
}
