"""Property-based fuzzing of every RPC's request message against a real server.

For each RPC of every zone-opt service, hypothesis draws request messages from the
message's own descriptor (every field of every type: strings up to several KiB, extreme
integers, NaN and infinities, enum numbers nobody declared, timestamps and durations out
of range, nested messages, repeated fields and maps), serialises them, sometimes damages
the bytes, and sends them with a valid token. Whatever comes, the server answers with a
status the caller can act on: never INTERNAL, UNKNOWN or a hang, and it still serves.

``make fuzz`` runs more examples (``ZONE_OPT_FUZZ_EXAMPLES``); ``make test`` a few per RPC.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zone_opt.service.server import SERVICE_NAMES

EXAMPLES = int(os.environ.get("ZONE_OPT_FUZZ_EXAMPLES", "12"))
MD = (("authorization", "Bearer token-alice"),)
#: Codes a caller can act on; INTERNAL and UNKNOWN mean our bug, DEADLINE_EXCEEDED a hang.
ACCEPTABLE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.OUT_OF_RANGE,
}
_POOL = descriptor_pool.Default()
_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _methods() -> list[MethodDescriptor]:
    found = []
    for name in sorted(SERVICE_NAMES.values()):
        found += list(_POOL.FindServiceByName(name).methods)
    return found


def _ints(fd: FieldDescriptor) -> st.SearchStrategy[int]:
    low, high = _INT_RANGES[fd.type]
    edges = st.sampled_from([low, high, 0, 1, -1 if low < 0 else 2, 2**31 - 1, 10**6])
    return st.one_of(edges.filter(lambda v: low <= v <= high), st.integers(low, high))


def _scalar(fd: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = fd.type
    if t == FieldDescriptor.TYPE_STRING:
        long = st.integers(1, 6000).map(lambda n: "é" * n)
        return st.one_of(st.text(max_size=40), long, st.sampled_from(["", "demo", "../etc"]))
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=300)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=64)
    if t == FieldDescriptor.TYPE_ENUM:
        return st.integers(-3, 12)
    return _ints(fd)


def _message(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    cls = message_factory.GetMessageClass(descriptor)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        msg = cls()
        for fd in descriptor.fields:
            if not draw(st.booleans()):
                continue
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                key_fd = fd.message_type.fields_by_name["key"]
                value_fd = fd.message_type.fields_by_name["value"]
                if value_fd.message_type is not None:
                    continue
                entries = draw(st.dictionaries(_scalar(key_fd), _scalar(value_fd), max_size=3))
                for k, v in entries.items():
                    getattr(msg, fd.name)[k] = v
                continue
            if fd.message_type is not None:
                if depth >= 3:
                    continue
                values = draw(st.lists(_message(fd.message_type, depth + 1), max_size=2))
                if fd.is_repeated:
                    getattr(msg, fd.name).extend(values)
                elif values:
                    getattr(msg, fd.name).CopyFrom(values[0])
                continue
            if fd.is_repeated:
                getattr(msg, fd.name).extend(draw(st.lists(_scalar(fd), max_size=3)))
            else:
                setattr(msg, fd.name, draw(_scalar(fd)))
        return msg

    return build()


@st.composite
def _payload(draw: st.DrawFn, descriptor: Descriptor) -> bytes:
    """A serialised message, sometimes with bytes damaged or cut."""
    data = bytearray(draw(_message(descriptor)).SerializeToString())
    damage = draw(st.sampled_from(["none", "none", "flip", "cut", "garbage"]))
    if damage == "flip" and data:
        at = draw(st.integers(0, len(data) - 1))
        data[at] ^= draw(st.integers(1, 255))
    elif damage == "cut" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif damage == "garbage":
        return draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[grpc.Channel]:
    from zone_opt.service.server import ServerSettings, create_server  # noqa: PLC0415

    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    server, port = create_server(
        ServerSettings(
            data_dir=data_dir, port=0, tokens={"token-alice": "alice"}, preload_sample=True
        )
    )
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(0.5)


def _send(channel: grpc.Channel, method: MethodDescriptor, payloads: list[bytes]) -> Any:
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw: Any = channel  # bytes in and out: no (de)serializers
    if method.client_streaming and method.server_streaming:
        return list(raw.stream_stream(path)(iter(payloads), metadata=MD, timeout=20))
    if method.client_streaming:
        return raw.stream_unary(path)(iter(payloads), metadata=MD, timeout=20)
    if method.server_streaming:
        return list(raw.unary_stream(path)(payloads[0], metadata=MD, timeout=20))
    return raw.unary_unary(path)(payloads[0], metadata=MD, timeout=20)


def _outcome(
    channel: grpc.Channel, method: MethodDescriptor, payloads: list[bytes]
) -> tuple[grpc.StatusCode, str]:
    try:
        _send(channel, method, payloads)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("method", _methods(), ids=lambda m: m.name)
def test_any_request_gets_a_status_the_caller_can_act_on(
    channel: grpc.Channel, method: MethodDescriptor
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("ZONE_OPT_FUZZ_EXAMPLES") is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payloads=st.lists(_payload(method.input_type), min_size=1, max_size=3))
    def check(payloads: list[bytes]) -> None:
        sent.append(len(payloads))
        code, details = _outcome(channel, method, payloads)
        assert code in ACCEPTABLE, (method.name, code, details)

    sent: list[int] = []
    started = time.perf_counter()
    check()
    seconds = time.perf_counter() - started
    print(  # the rate ``make fuzz`` reports (shown with -s)
        f"fuzz rpc {method.name}: {len(sent)} calls, {sum(sent)} messages in {seconds:.1f} s"
        f" ({len(sent) / seconds:.0f} calls/s)"
    )
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
