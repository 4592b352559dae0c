//! Bindings of the RFC 9497 suite's operations (`rfc9497_*`), for its test vectors.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::detach::{run_detached, run_detached_here};
use crate::error::{CoreError, CoreResult};
use crate::join::rfc9497::{self, RfcMode};

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
    m.add_function(wrap_pyfunction!(rfc9497_derive_key_pair, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_blind, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_blind_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_finalize, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_generate_proof, m)?)?;
    m.add_function(wrap_pyfunction!(rfc9497_verify_proof, m)?)?;
    Ok(())
}
