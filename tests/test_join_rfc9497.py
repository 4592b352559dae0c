"""RFC 9497 ``ristretto255-SHA512``: every Appendix A vector of OPRF mode (A.1.1) and VOPRF
mode (A.1.2), batch sizes 1 and 2, through :mod:`zone_opt.join.rfc9497`; tampered proofs
refused; malformed encodings rejected naming the parameter.

Test-vector data copied from RFC 9497 Appendix A (also published as
``poc/vectors/allVectors.json`` in github.com/cfrg/draft-irtf-cfrg-voprf).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from zone_opt.errors import InvalidInputError
from zone_opt.join import rfc9497

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")
BLIND = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"
R = "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"
A5 = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"


@dataclass(frozen=True)
class Vector:
    name: str
    inputs: tuple[str, ...]
    blinds: tuple[str, ...]
    blinded: tuple[str, ...]
    evaluated: tuple[str, ...]
    outputs: tuple[str, ...]
    r: str = ""
    proof: str = ""


OPRF_SK = "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"
OPRF = [
    Vector(
        "A.1.1 vector 1",
        ("00",),
        (BLIND,),
        ("609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",),
        ("7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",),
        (
            "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
            "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
        ),
    ),
    Vector(
        "A.1.1 vector 2",
        (A5,),
        (BLIND,),
        ("da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",),
        ("b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",),
        (
            "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
            "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
        ),
    ),
]

VOPRF_SK = "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909"
VOPRF_PK = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
OUT_00 = (
    "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
    "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"
)
OUT_5A = (
    "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
    "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"
)
VOPRF = [
    Vector(
        "A.1.2 vector 1",
        ("00",),
        (BLIND,),
        ("863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",),
        ("aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",),
        (OUT_00,),
        R,
        "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06"
        "6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
    ),
    Vector(
        "A.1.2 vector 2",
        (A5,),
        (BLIND,),
        ("cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c",),
        ("60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468",),
        (OUT_5A,),
        R,
        "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a"
        "67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
    ),
    Vector(
        "A.1.2 vector 3 (batch of 2)",
        ("00", A5),
        (BLIND, R),
        (
            "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
            "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        ),
        (
            "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
            "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        ),
        (OUT_00, OUT_5A),
        "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
        "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a"
        "5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
    ),
]


def _check(mode: rfc9497.Mode, sk_hex: str, v: Vector) -> None:
    sk, pk = rfc9497.derive_key_pair(SEED, KEY_INFO, mode=mode)
    assert sk.hex() == sk_hex
    for inp, bl, be, ev, out in zip(
        v.inputs, v.blinds, v.blinded, v.evaluated, v.outputs, strict=True
    ):
        x, b = bytes.fromhex(inp), bytes.fromhex(bl)
        assert rfc9497.blind(x, b, mode=mode).hex() == be
        assert rfc9497.blind_evaluate(sk, bytes.fromhex(be)).hex() == ev
        assert rfc9497.finalize(x, b, bytes.fromhex(ev)).hex() == out
    if mode == "voprf":
        assert pk.hex() == VOPRF_PK
        blinded = [bytes.fromhex(x) for x in v.blinded]
        evaluated = [bytes.fromhex(x) for x in v.evaluated]
        proof = rfc9497.generate_proof(sk, pk, blinded, evaluated, bytes.fromhex(v.r))
        assert proof.hex() == v.proof
        assert rfc9497.verify_proof(pk, blinded, evaluated, proof) is True


@pytest.mark.parametrize("v", OPRF, ids=lambda v: v.name)
def test_oprf_mode_vectors(v: Vector) -> None:
    _check("oprf", OPRF_SK, v)


@pytest.mark.parametrize("v", VOPRF, ids=lambda v: v.name)
def test_voprf_mode_vectors(v: Vector) -> None:
    _check("voprf", VOPRF_SK, v)


def _batch() -> tuple[bytes, list[bytes], list[bytes], bytes]:
    v = VOPRF[2]
    return (
        bytes.fromhex(VOPRF_PK),
        [bytes.fromhex(x) for x in v.blinded],
        [bytes.fromhex(x) for x in v.evaluated],
        bytes.fromhex(v.proof),
    )


def _outcome(pk: bytes, blinded: list[bytes], evaluated: list[bytes], proof: bytes) -> str:
    """``"accepted"``, ``"rejected"``, or the field a malformed-input error names."""
    try:
        return "accepted" if rfc9497.verify_proof(pk, blinded, evaluated, proof) else "rejected"
    except InvalidInputError as exc:  # e.g. the flip made a scalar non-canonical
        return exc.violations[0].field


def test_tampered_proofs_are_refused() -> None:
    pk, blinded, evaluated, proof = _batch()
    assert _outcome(pk, blinded, evaluated, proof) == "accepted"
    for i in range(len(proof)):
        bad = bytearray(proof)
        bad[i] ^= 0x01
        assert _outcome(pk, blinded, evaluated, bytes(bad)) in ("rejected", "proof"), i
    # Swapped evaluations, a batch-1 proof for the batch, another server's key.
    assert not rfc9497.verify_proof(pk, blinded, evaluated[::-1], proof)
    assert not rfc9497.verify_proof(pk, blinded, evaluated, bytes.fromhex(VOPRF[0].proof))
    _, other_pk = rfc9497.derive_key_pair(bytes(32), KEY_INFO, mode="voprf")
    assert not rfc9497.verify_proof(other_pk, blinded, evaluated, proof)


def test_an_evaluation_under_another_key_is_refused() -> None:
    pk, blinded, evaluated, proof = _batch()
    other_sk, _ = rfc9497.derive_key_pair(bytes(32), KEY_INFO, mode="voprf")
    forged = [evaluated[0], rfc9497.blind_evaluate(other_sk, blinded[1])]
    assert not rfc9497.verify_proof(pk, blinded, forged, proof)


NOT_CANONICAL_SCALAR = b"\xff" * 32
# p = 2^255 - 19, little endian: not a canonical field element, so not an element encoding.
NOT_CANONICAL_ELEMENT = b"\xed" + b"\xff" * 30 + b"\x7f"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: rfc9497.derive_key_pair(b"\xa3" * 31, KEY_INFO), "seed"),
        (lambda: rfc9497.derive_key_pair(SEED, "test key"), "info"),  # type: ignore[arg-type]
        (lambda: rfc9497.derive_key_pair(SEED, KEY_INFO, mode="poprf"), "mode"),  # type: ignore[arg-type]
        (lambda: rfc9497.blind(b"x", NOT_CANONICAL_SCALAR), "blind_scalar"),
        (lambda: rfc9497.blind(b"x", bytes(32)), "blind_scalar"),
        (lambda: rfc9497.blind(b"x", bytes.fromhex(BLIND)[:31]), "blind_scalar"),
        (lambda: rfc9497.blind(b"x" * 65536, bytes.fromhex(BLIND)), "input"),
        (lambda: rfc9497.blind_evaluate(bytes.fromhex(VOPRF_SK), bytes(32)), "blinded"),
        (lambda: rfc9497.blind_evaluate(bytes.fromhex(VOPRF_SK), NOT_CANONICAL_ELEMENT), "blinded"),
        (lambda: rfc9497.blind_evaluate(NOT_CANONICAL_SCALAR, bytes.fromhex(VOPRF_PK)), "sk"),
        (lambda: rfc9497.finalize(b"x", bytes.fromhex(BLIND), b"\x01" * 33), "evaluated"),
        (lambda: rfc9497.finalize(b"x", bytes.fromhex(BLIND), NOT_CANONICAL_ELEMENT), "evaluated"),
    ],
)
def test_malformed_inputs_name_the_parameter(call: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert info.value.violations[0].field == field


def test_malformed_batches_name_the_parameter_and_position() -> None:
    pk, blinded, evaluated, proof = _batch()
    sk = bytes.fromhex(VOPRF_SK)
    r = bytes.fromhex(R)
    cases: list[tuple[Callable[[], object], str, int | None]] = [
        (lambda: rfc9497.verify_proof(pk, blinded, evaluated[:1], proof), "evaluated", None),
        (lambda: rfc9497.verify_proof(pk, [], [], proof), "blinded", None),
        (lambda: rfc9497.verify_proof(pk, blinded, evaluated, proof[:63]), "proof", None),
        (lambda: rfc9497.verify_proof(pk, [blinded[0], bytes(32)], evaluated, proof), "blinded", 1),
        (
            lambda: rfc9497.verify_proof(pk, blinded, [NOT_CANONICAL_ELEMENT, evaluated[1]], proof),
            "evaluated",
            0,
        ),
        (lambda: rfc9497.verify_proof(bytes(32), blinded, evaluated, proof), "pk", None),
        (
            lambda: rfc9497.verify_proof(pk, blinded[0], evaluated, proof),  # type: ignore[arg-type]
            "blinded",
            None,
        ),
        (lambda: rfc9497.generate_proof(sk, pk, blinded, evaluated, bytes(32)), "r", None),
        (lambda: rfc9497.generate_proof(sk[::-1], pk, blinded, evaluated, r), "sk", None),
        (
            lambda: rfc9497.generate_proof(bytes.fromhex(OPRF_SK), pk, blinded, evaluated, r),
            "pk",
            None,
        ),
    ]
    for call, field, row in cases:
        with pytest.raises(InvalidInputError) as info:
            call()
        assert (info.value.violations[0].field, info.value.violations[0].row) == (field, row)
