"""RFC 9497 oblivious pseudorandom functions, suite ``ristretto255-SHA512``.

The operations of RFC 9497 (OPRFs using prime-order groups) for the one suite zone-opt
implements, in OPRF mode (``mode="oprf"``, 0x00) and VOPRF mode (``mode="voprf"``, 0x01),
so a reviewer can check them against the RFC's Appendix A test vectors and another RFC 9497
implementation can talk to zone-opt's verifiable join (see ``docs/join-rfc9497.md``):

- :func:`derive_key_pair` (``DeriveKeyPair``), :func:`blind` (``Blind`` with the blind
  scalar given), :func:`blind_evaluate` (``BlindEvaluate``), :func:`finalize`
  (``Finalize``);
- VOPRF only: :func:`generate_proof` (``GenerateProof`` with its nonce ``r`` given) and
  :func:`verify_proof` (``VerifyProof``) over a batch of elements.

Bytes in and out are the RFC's encodings: elements are 32-byte canonical ristretto255
encodings (the identity is refused), scalars 32-byte little-endian integers below the group
order, outputs 64 bytes (SHA-512), proofs 64 bytes (``c || s``). Anything else raises
:class:`~zone_opt.errors.InvalidInputError` naming the parameter (and the list position for
batches). Each call costs at most a few scalar multiplications; a proof costs two
multiplications per batch element plus a constant.

Blind scalars and proof nonces must be secret and uniformly random in real use; these
functions take them as arguments so the RFC's vectors can be reproduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from zone_opt import _core
from zone_opt.errors import InvalidInputError

__all__ = [
    "ELEMENT_BYTES",
    "IDENTIFIER",
    "OUTPUT_BYTES",
    "PROOF_BYTES",
    "SCALAR_BYTES",
    "Mode",
    "blind",
    "blind_evaluate",
    "derive_key_pair",
    "finalize",
    "generate_proof",
    "verify_proof",
]

Mode = Literal["oprf", "voprf"]

IDENTIFIER = "ristretto255-SHA512"
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
OUTPUT_BYTES = 64
PROOF_BYTES = 64
_MAX_INPUT_BYTES = 0xFFFF


def _bytes(value: object, field: str, length: int | None = None) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInputError.single(field, None, f"must be bytes, got {type(value).__name__}")
    out = bytes(value)
    if length is not None and len(out) != length:
        raise InvalidInputError.single(field, None, f"must be {length} bytes, got {len(out)}")
    return out


def _input(value: object) -> bytes:
    out = _bytes(value, "input")
    if len(out) > _MAX_INPUT_BYTES:
        raise InvalidInputError.single(
            "input", None, f"at most {_MAX_INPUT_BYTES} bytes, got {len(out)}"
        )
    return out


def _elements(values: Sequence[bytes], field: str) -> list[bytes]:
    if isinstance(values, bytes | bytearray | memoryview | str):
        raise InvalidInputError.single(field, None, "must be a list of elements, not one")
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, bytes | bytearray | memoryview) or len(v) != ELEMENT_BYTES:
            raise InvalidInputError.single(field, i, f"an element is {ELEMENT_BYTES} bytes")
        out.append(bytes(v))
    return out


def _mode(mode: str) -> str:
    if mode not in ("oprf", "voprf"):
        raise InvalidInputError.single("mode", None, "must be 'oprf' or 'voprf'")
    return mode


def derive_key_pair(seed: bytes, info: bytes, *, mode: Mode = "oprf") -> tuple[bytes, bytes]:
    """``DeriveKeyPair(seed, info)`` (RFC 9497 §3.2.1): ``(skS, pkS)``.

    Args:
        seed: 32 bytes of secret, uniformly random seed.
        info: public key information, at most 65535 bytes.
        mode: ``"oprf"`` or ``"voprf"`` (the context string, hence the key, differs).
    """
    return _core.rfc9497_derive_key_pair(
        _mode(mode), _bytes(seed, "seed", SCALAR_BYTES), _bytes(info, "info")
    )


def blind(input: bytes, blind_scalar: bytes, *, mode: Mode = "oprf") -> bytes:
    """``Blind(input)`` with the blind given: ``blind_scalar * HashToGroup(input)``.

    Args:
        input: the private input, at most 65535 bytes.
        blind_scalar: a non-zero canonical scalar (32 bytes), secret and random in real use.
        mode: ``"oprf"`` or ``"voprf"`` (selects the HashToGroup domain-separation tag).

    Returns:
        The blinded element (32 bytes).
    """
    return _core.rfc9497_blind(
        _mode(mode), _input(input), _bytes(blind_scalar, "blind_scalar", SCALAR_BYTES)
    )


def blind_evaluate(sk: bytes, blinded: bytes) -> bytes:
    """``BlindEvaluate(skS, blindedElement)``: ``sk * blinded`` (32 bytes). In VOPRF mode,
    prove a batch of evaluations with :func:`generate_proof`."""
    return _core.rfc9497_blind_evaluate(
        _bytes(sk, "sk", SCALAR_BYTES), _bytes(blinded, "blinded", ELEMENT_BYTES)
    )


def finalize(input: bytes, blind_scalar: bytes, evaluated: bytes) -> bytes:
    """``Finalize(input, blind, evaluatedElement)``: the 64-byte OPRF output
    ``SHA-512(I2OSP(len(input), 2) || input || I2OSP(32, 2) || evaluated / blind ||
    "Finalize")``. In VOPRF mode, check the server's proof with :func:`verify_proof` first.
    """
    return _core.rfc9497_finalize(
        _input(input),
        _bytes(blind_scalar, "blind_scalar", SCALAR_BYTES),
        _bytes(evaluated, "evaluated", ELEMENT_BYTES),
    )


def generate_proof(
    sk: bytes, pk: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], r: bytes
) -> bytes:
    """VOPRF ``GenerateProof(skS, G, pkS, blindedElements, evaluatedElements)`` with the
    nonce ``r`` given: the 64-byte proof ``c || s`` that every ``evaluated[i]`` is
    ``sk * blinded[i]``.

    Args:
        sk: the server's private key; ``pk`` must be its public key.
        blinded: the batch's blinded elements (1 to 65536 of them).
        evaluated: their evaluations, in the same order.
        r: a non-zero canonical scalar, secret and random in real use.
    """
    return _core.rfc9497_generate_proof(
        _bytes(sk, "sk", SCALAR_BYTES),
        _bytes(pk, "pk", ELEMENT_BYTES),
        _elements(blinded, "blinded"),
        _elements(evaluated, "evaluated"),
        _bytes(r, "r", SCALAR_BYTES),
    )


def verify_proof(
    pk: bytes, blinded: Sequence[bytes], evaluated: Sequence[bytes], proof: bytes
) -> bool:
    """VOPRF ``VerifyProof(G, pkS, blindedElements, evaluatedElements, proof)``.

    Returns:
        ``True`` when the proof shows every ``evaluated[i]`` is ``sk * blinded[i]`` for the
        key behind ``pk``, ``False`` when it does not.

    Raises:
        InvalidInputError: an encoding is malformed (wrong length, non-canonical element or
            scalar, the identity), or the lists differ in length.
    """
    return _core.rfc9497_verify_proof(
        _bytes(pk, "pk", ELEMENT_BYTES),
        _elements(blinded, "blinded"),
        _elements(evaluated, "evaluated"),
        _bytes(proof, "proof", PROOF_BYTES),
    )
