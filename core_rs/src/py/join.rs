//! Bindings of `join`: the sender and receiver state machines, and the RFC 9497 suite's
//! operations (`rfc9497_*`). Keys cross as Arrow large-string buffers (offsets + UTF-8
//! data), messages as bytes; every protocol step runs detached from the GIL on the engine
//! pool.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::arrays::slice;
use super::detach::{run_detached, run_detached_here};
use crate::error::{CoreError, CoreResult};
use crate::join::rfc9497::{self, RfcMode};
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

fn points(items: &[Vec<u8>], field: &str) -> CoreResult<Vec<curve25519_dalek::RistrettoPoint>> {
    items
        .iter()
        .enumerate()
        .map(|(i, b)| rfc9497::element(b, field, Some(i)))
        .collect()
}

/// RFC 9497 `DeriveKeyPair(seed, info)` of `mode` (`"oprf"` or `"voprf"`): `(skS, pkS)`.
#[pyfunction]
fn rfc9497_derive_key_pair<'py>(
    py: Python<'py>,
    mode: &str,
    seed: &[u8],
    info: &[u8],
) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let mode = RfcMode::parse(mode)?;
    let (sk, pk) = run_detached_here(py, || rfc9497::derive_key_pair(mode, seed, info))?;
    Ok((
        PyBytes::new(py, sk.as_bytes()),
        PyBytes::new(py, pk.as_bytes()),
    ))
}

/// RFC 9497 `Blind(input)` of `mode` with the blind scalar given: the blinded element.
#[pyfunction]
fn rfc9497_blind<'py>(
    py: Python<'py>,
    mode: &str,
    input: &[u8],
    blind_scalar: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let mode = RfcMode::parse(mode)?;
    let out = run_detached_here(py, || {
        let blind = rfc9497::nonzero_scalar(blind_scalar, "blind_scalar")?;
        rfc9497::blind(mode, input, &blind)
    })?;
    Ok(PyBytes::new(py, out.as_bytes()))
}

/// RFC 9497 `BlindEvaluate(skS, blindedElement)`: the evaluated element.
#[pyfunction]
fn rfc9497_blind_evaluate<'py>(
    py: Python<'py>,
    sk: &[u8],
    blinded: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let out = run_detached_here(py, || {
        let sk = rfc9497::nonzero_scalar(sk, "sk")?;
        let blinded = rfc9497::element(blinded, "blinded", None)?;
        Ok(rfc9497::blind_evaluate(&sk, &blinded))
    })?;
    Ok(PyBytes::new(py, out.as_bytes()))
}

/// RFC 9497 `Finalize(input, blind, evaluatedElement)`: the 64-byte output.
#[pyfunction]
fn rfc9497_finalize<'py>(
    py: Python<'py>,
    input: &[u8],
    blind_scalar: &[u8],
    evaluated: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let out = run_detached_here(py, || {
        let blind = rfc9497::nonzero_scalar(blind_scalar, "blind_scalar")?;
        let evaluated = rfc9497::element(evaluated, "evaluated", None)?;
        rfc9497::finalize(input, &blind, &evaluated)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// RFC 9497 `GenerateProof` (VOPRF) over a batch, with the nonce `r` given.
#[pyfunction]
fn rfc9497_generate_proof<'py>(
    py: Python<'py>,
    sk: &[u8],
    pk: &[u8],
    blinded: Vec<Vec<u8>>,
    evaluated: Vec<Vec<u8>>,
    r: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let out = run_detached(py, || {
        let sk = rfc9497::nonzero_scalar(sk, "sk")?;
        let pk = rfc9497::element(pk, "pk", None)?.compress();
        let r = rfc9497::nonzero_scalar(r, "r")?;
        let c = points(&blinded, "blinded")?;
        let d = points(&evaluated, "evaluated")?;
        rfc9497::generate_proof(&sk, &pk, &c, &d, &r)
    })?;
    Ok(PyBytes::new(py, &out))
}

/// RFC 9497 `VerifyProof` (VOPRF) over a batch: `True` when the proof holds.
#[pyfunction]
fn rfc9497_verify_proof(
    py: Python<'_>,
    pk: &[u8],
    blinded: Vec<Vec<u8>>,
    evaluated: Vec<Vec<u8>>,
    proof: &[u8],
) -> PyResult<bool> {
    let out = run_detached(py, || {
        let pk = rfc9497::element(pk, "pk", None)?.compress();
        let c = points(&blinded, "blinded")?;
        let d = points(&evaluated, "evaluated")?;
        match rfc9497::verify_proof(&pk, &c, &d, proof) {
            Ok(()) => Ok(true),
            Err(CoreError::VerificationFailed(_)) => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<JoinSender>()?;
    m.add_class::<JoinReceiver>()?;
    m.add_class::<JoinStreamSender>()?;
    m.add_class::<JoinStreamReceiver>()?;
    m.add("JOIN_TAG_LEN", crate::join::TAG_LEN)?;
    m.add_function(wrap_pyfunction!(rfc9497_derive_key_pair, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_blind, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_blind_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_finalize, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_generate_proof, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_verify_proof, m)?)?;
    Ok(())
}
