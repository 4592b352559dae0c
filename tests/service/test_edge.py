"""The edge: every byte a request carries is checked before use (issue: crafted IPC, SSRF,
INTERNAL for the caller's mistakes, values that pass the edge and fail later)."""

from __future__ import annotations

import errno
import logging
import math
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pytest
from google.protobuf import duration_pb2, timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

import zone_opt
import zone_opt.matching
from zone_opt.api.v1 import (
    datasets_pb2,
    datasets_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
    facilities_pb2,
    facilities_pb2_grpc,
    join_pb2,
    join_pb2_grpc,
    matching_pb2,
    matching_pb2_grpc,
)
from zone_opt.client import Client
from zone_opt.errors import (
    FailedPreconditionError,
    InvalidInputError,
    ResourceExhaustedError,
)
from zone_opt.join.policy import JoinPolicy
from zone_opt.rpc.ipc import table_to_ipc
from zone_opt.rpc.join import gather_message
from zone_opt.service.server import Server
from zone_opt.service.storage import files as storage_files
from zone_opt.service.transport.edge import MAX_ID_CHARS
from zone_opt.service.transport.peers import JoinPeer, PeerRegistry, load_peers

MD = (("authorization", "Bearer token-alice"),)
PARK_YAML = Path(__file__).resolve().parents[2] / "datasets" / "carbon_demo" / "park.yaml"


@pytest.fixture
def channel(server: tuple[Server, int]) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as ch:
        yield ch


def _fails(call: Callable[[], object]) -> tuple[grpc.StatusCode, str, list[str]]:
    """The code, message and field-violation fields of a call that must fail."""
    with pytest.raises(grpc.RpcError) as err:
        call()
    status = rpc_status.from_call(err.value)
    fields: list[str] = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return err.value.code(), err.value.details() or "", fields


# ----------------------------------------------------------------- undecodable requests


def test_undecodable_request_is_invalid_argument_after_authentication(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    raw: Any = channel.unary_unary("/zone_opt.api.v1.DatasetService/GetDataset")
    garbage = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, a length far past the end
    code, _, _ = _fails(lambda: raw(garbage, timeout=10))
    assert code is grpc.StatusCode.UNAUTHENTICATED  # no token: refused before decoding
    caplog.clear()
    with caplog.at_level(logging.INFO):
        code, message, fields = _fails(lambda: raw(garbage, metadata=MD, timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert fields == ["request"]
    assert "GetDataset request" in message
    access = [r for r in caplog.records if "event=rpc " in r.getMessage()]
    assert len(access) == 1
    assert "code=INVALID_ARGUMENT" in access[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any(r.exc_info for r in caplog.records)


# ---------------------------------------------------------- enums, timestamps, numbers


def test_unknown_enum_value_is_invalid_argument_naming_the_field(channel: grpc.Channel) -> None:
    stub = facilities_pb2_grpc.FacilitiesServiceStub(channel)
    request = facilities_pb2.PlanFacilitiesRequest(scenario_yaml="scenarios: []")
    request.options.sharing.append(77)  # type: ignore[arg-type]
    code, _, fields = _fails(lambda: stub.PlanFacilities(request, metadata=MD, timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert fields == ["options.sharing[0]"]


@pytest.mark.parametrize("seconds", [10**15, -(10**15)])
def test_timestamp_out_of_range_is_invalid_argument(channel: grpc.Channel, seconds: int) -> None:
    stub = matching_pb2_grpc.MatchingServiceStub(channel)
    request = matching_pb2.MatchRequest(
        spaces_dataset_id="a", enterprises_dataset_id="b", parks_dataset_id="c"
    )
    request.options.now.CopyFrom(timestamp_pb2.Timestamp(seconds=seconds))
    code, _, fields = _fails(lambda: stub.Match(request, metadata=MD, timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert fields == ["options.now"]


def test_nan_gaps_are_invalid_argument(channel: grpc.Channel) -> None:
    facilities = facilities_pb2_grpc.FacilitiesServiceStub(channel)
    plan = facilities_pb2.PlanFacilitiesRequest(scenario_yaml="scenarios: []")
    plan.options.mip_rel_gap = math.nan
    code, _, fields = _fails(lambda: facilities.PlanFacilities(plan, metadata=MD, timeout=10))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["options.mip_rel_gap"])
    dispatch = dispatch_pb2_grpc.DispatchServiceStub(channel)
    run = dispatch_pb2.DispatchRequest(scenario_yaml="x: 1", profiles_ipc=b"x")
    run.start.CopyFrom(timestamp_pb2.Timestamp(seconds=1_700_000_000))
    run.horizon.CopyFrom(duration_pb2.Duration(seconds=3600))
    run.options.mip_rel_gap = math.inf
    code, _, fields = _fails(lambda: dispatch.Dispatch(run, metadata=MD, timeout=10))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["options.mip_rel_gap"])


def test_over_long_id_is_invalid_argument_and_never_echoed(channel: grpc.Channel) -> None:
    stub = datasets_pb2_grpc.DatasetServiceStub(channel)
    long_id = "x" * 100_000
    request = datasets_pb2.GetDatasetRequest(dataset_id=long_id)
    code, message, fields = _fails(lambda: stub.GetDataset(request, metadata=MD, timeout=10))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert fields == ["dataset_id"]
    assert str(MAX_ID_CHARS) in message
    assert len(message) < 1000
    # At the limit it is looked up (and not found), never echoed in full.
    request = datasets_pb2.GetDatasetRequest(dataset_id="y" * MAX_ID_CHARS)
    code, message, _ = _fails(lambda: stub.GetDataset(request, metadata=MD, timeout=10))
    assert code is grpc.StatusCode.NOT_FOUND


def test_many_long_violations_fit_in_the_status(alice: Client, sample: Any) -> None:
    spaces = sample("spaces")
    kinds = pa.array(["k" * 5000] * spaces.num_rows)
    bad = spaces.set_column(spaces.schema.get_field_index("kind"), "kind", kinds)
    with pytest.raises(InvalidInputError) as info:
        alice.upload(bad, "long", kind="spaces")
    assert info.value.status_code == "INVALID_ARGUMENT"  # not RESOURCE_EXHAUSTED
    assert info.value.violations[0].field == "spaces.kind"
    assert "more not shown" in info.value.violations[-1].reason


# -------------------------------------------------------------- datasets of another kind


def test_dataset_of_the_wrong_kind_is_failed_precondition(alice: Client, sample: Any) -> None:
    parks = alice.upload(sample("parks"), "parks", kind="parks")
    spaces = alice.upload(sample("spaces"), "spaces", kind="spaces")
    enterprises = alice.upload(sample("enterprises"), "enterprises", kind="enterprises")
    with pytest.raises(FailedPreconditionError) as info:
        alice.submit_carbon_allocate(parks, park_yaml=PARK_YAML.read_text(encoding="utf-8"))
    assert info.value.status_code == "FAILED_PRECONDITION"
    assert info.value.subject == "meters_dataset_id"
    assert "expected meters" in str(info.value)
    assert "parks" in str(info.value)
    with pytest.raises(FailedPreconditionError) as info:
        alice.submit_match(enterprises, spaces, parks)  # spaces and enterprises swapped
    assert info.value.subject == "spaces_dataset_id"


# ------------------------------------------------------------------- crafted Arrow bytes


def _ipc_with(table: pa.Table, name: str, column: pa.Array) -> bytes:
    return table_to_ipc(table.set_column(table.schema.get_field_index(name), name, column))


def test_list_offsets_past_their_values_are_invalid_argument(
    alice: Client, channel: grpc.Channel, sample: Any, raw_upload: Any
) -> None:
    parks = sample("parks").combine_chunks()
    edited = bytearray(table_to_ipc(parks))
    # The list offsets of permitted_industries as the stream carries them: end the last
    # list far past the values (the one-byte change that crashed the server).
    lists = parks.column("permitted_industries").chunk(0)
    offsets = bytes(lists.buffers()[1])[: 4 * (len(lists) + 1)]
    at = bytes(edited).find(offsets)
    assert at > 0
    assert bytes(edited).count(offsets) == 1
    end = at + 4 * len(lists)
    edited[end : end + 4] = (4000).to_bytes(4, "little")
    data = bytes(edited)
    recommend = matching_pb2_grpc.MatchingServiceStub(channel)
    request = matching_pb2.RecommendRequest(
        parks_ipc=data,
        spaces_ipc=table_to_ipc(sample("spaces")),
        enterprises_ipc=table_to_ipc(sample("enterprises").slice(0, 5)),
        k=2,
    )
    code, message, fields = _fails(lambda: recommend.Recommend(request, metadata=MD, timeout=30))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert fields == ["parks_ipc"]
    assert "record batch 0" in message
    assert "permitted_industries" in message
    # The same bytes as an upload, with a correct checksum: refused, nothing stored.
    code, message = raw_upload(channel, "parks", data)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "permitted_industries" in message
    assert alice.list() == []


def test_invalid_utf8_in_a_string_column_is_invalid_argument(
    channel: grpc.Channel, sample: Any
) -> None:
    spaces = sample("spaces")
    n = spaces.num_rows
    raw = b"".join(b"ab\xff" for _ in range(n))
    offsets = pa.array(range(0, 3 * n + 1, 3), pa.int32())
    broken = pa.Array.from_buffers(pa.string(), n, [None, offsets.buffers()[1], pa.py_buffer(raw)])
    request = matching_pb2.RecommendRequest(
        parks_ipc=table_to_ipc(sample("parks")),
        spaces_ipc=_ipc_with(spaces, "space_id", broken),
        enterprises_ipc=table_to_ipc(sample("enterprises").slice(0, 5)),
        k=2,
    )
    stub = matching_pb2_grpc.MatchingServiceStub(channel)
    code, message, fields = _fails(lambda: stub.Recommend(request, metadata=MD, timeout=30))
    assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["spaces_ipc"])
    assert "space_id" in message
    assert "UTF8" in message


def _meters_with_key(meters: pa.Table, ids: pa.Array) -> bytes:
    """The meters table as one IPC stream with ``enterprise_id`` replaced by ``ids``."""
    return _ipc_with(meters.combine_chunks(), "enterprise_id", ids)


@pytest.mark.parametrize("nulls", [False, True], ids=["rust-encoding", "arrow-path"])
def test_key_columns_validated_by_their_encoding_refuse_bad_bytes(
    alice: Client, channel: grpc.Channel, sample: Any, raw_upload: Any, nulls: bool
) -> None:
    """An upload's string key columns are validated in full by the pass that encodes them
    (not twice): bytes that are not UTF-8, or offsets past the data, are still refused
    as INVALID_ARGUMENT naming the column, with or without nulls, and nothing is stored."""
    meters = sample("meters").slice(0, 1000)
    ids = meters.column("enterprise_id").combine_chunks()
    n = len(ids)
    validity = None
    if nulls:
        validity = pa.array([i != 7 for i in range(n)]).buffers()[1]
    text = b"".join(v.encode() for v in ids.to_pylist())
    offsets = ids.buffers()[1]
    # One byte of row 500 turned into 0xFF: no longer UTF-8.
    start = int.from_bytes(bytes(offsets)[4 * 500 : 4 * 501], "little")
    broken = bytearray(text)
    broken[start] = 0xFF
    bad_utf8 = pa.Array.from_buffers(
        pa.string(), n, [validity, offsets, pa.py_buffer(bytes(broken))], null_count=int(nulls)
    )
    code, message = raw_upload(channel, "meters", _meters_with_key(meters, bad_utf8))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "enterprise_id" in message
    assert "UTF" in message
    # An offset in the middle going backwards (Arrow's structural check does not look).
    backwards = bytearray(bytes(offsets)[: 4 * (n + 1)])
    backwards[4 * 300 : 4 * 301] = (3).to_bytes(4, "little")
    cut = pa.Array.from_buffers(
        pa.string(),
        n,
        [validity, pa.py_buffer(bytes(backwards)), pa.py_buffer(text)],
        null_count=int(nulls),
    )
    code, message = raw_upload(channel, "meters", _meters_with_key(meters, cut))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "enterprise_id" in message
    assert alice.list() == []
    # The same table with valid bytes is stored (the deferral loses nothing valid).
    if not nulls:
        dataset_id = alice.upload(meters, "ok", kind="meters")
        stored = alice.download(dataset_id).column("enterprise_id").combine_chunks()
        assert stored.equals(ids)


def test_a_duplicated_key_column_name_is_invalid_argument(
    alice: Client, channel: grpc.Channel, sample: Any, raw_upload: Any
) -> None:
    """Two columns named ``enterprise_id`` (one of them not UTF-8): refused as
    INVALID_ARGUMENT, never a lookup error, and nothing is stored."""
    meters = sample("meters").slice(0, 100).combine_chunks()
    ids = meters.column("enterprise_id").chunk(0)
    raw = bytearray(bytes(ids.buffers()[2]))
    raw[0] = 0xFF
    bad = pa.Array.from_buffers(
        pa.string(), len(ids), [None, ids.buffers()[1], pa.py_buffer(bytes(raw))]
    )
    for twin in (ids, bad):
        doubled = meters.append_column("enterprise_id", twin)
        code, message = raw_upload(channel, "meters", table_to_ipc(doubled))
        assert code is grpc.StatusCode.INVALID_ARGUMENT, message
        assert "enterprise_id" in message or "duplicate column names" in message
    assert alice.list() == []


@pytest.mark.parametrize(
    ("kind", "column", "value"),
    [
        ("spaces", "area_m2", math.inf),
        ("spaces", "area_m2", 1e308),
        ("spaces", "area_m2", math.nan),
        ("meters", "electricity_kwh", math.inf),
        ("meters", "electricity_kwh", 1e300),
        ("enterprises", "annual_output_cny", 1e300),
    ],
)
def test_non_finite_and_absurd_quantities_are_refused_at_upload(
    alice: Client, sample: Any, kind: str, column: str, value: float
) -> None:
    table = sample(kind)
    values = table.column(column).to_pylist()
    values[3] = value
    bad = table.set_column(table.schema.get_field_index(column), column, pa.array(values))
    with pytest.raises(InvalidInputError) as info:
        alice.upload(bad, "bad", kind=kind)
    found = [v for v in info.value.violations if v.field == f"{kind}.{column}"]
    assert found
    assert found[0].row == 3
    assert alice.list() == []


# ---------------------------------------------------------------------- join policies


def test_policy_key_column_error_names_the_key_column(alice: Client, sample: Any) -> None:
    dataset = alice.upload(sample("enterprises"), "e", kind="enterprises")
    policy = JoinPolicy(
        dataset_id=dataset,
        key_column="nope",
        allowed_peers=("bob",),
        modes=("intersection",),
    )
    with pytest.raises(InvalidInputError) as info:
        alice.set_join_policy(policy)
    assert [v.field for v in info.value.violations] == ["policy.key_column"]


# ---------------------------------------------------------------- RunJoin never dials out


def test_run_join_dials_no_address_a_request_wrote(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], sample: Any
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    registered = JoinPeer("partner", "127.0.0.1:9", tls=False, tenants=("bob",))
    server, port = start(tmp_path / "data", join_peers=PeerRegistry({"partner": registered}))
    try:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=20) as alice:
            dataset = alice.upload(sample("enterprises"), "e", kind="enterprises")
            stub = join_pb2_grpc.JoinServiceStub(alice._channel)
            base = {
                "left_dataset_id": dataset,
                "on": "enterprise_id",
                "peer_dataset_id": "theirs",
                "mode": join_pb2.JOIN_MODE_INTERSECTION,
            }
            for extra, field in (
                ({"peer_address": address}, "peer_address"),
                ({"peer_address": address, "peer": "partner"}, "peer_address"),
                ({"peer": address}, "peer"),  # an address is no peer name
                ({"peer": "partner"}, "peer"),  # registered, but for bob only
                ({"peer_address": "http://[::1"}, "peer_address"),  # unparsable
            ):
                request = join_pb2.RunJoinRequest(**base, **extra)  # type: ignore[arg-type]
                code, _, fields = _fails(_run_join(stub, request))
                assert (code, fields) == (grpc.StatusCode.INVALID_ARGUMENT, [field])
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing ever connected
    finally:
        listener.close()
        server.stop(0.5)


def _run_join(stub: Any, request: join_pb2.RunJoinRequest) -> Callable[[], object]:
    return lambda: stub.RunJoin(request, metadata=MD, timeout=10)


def test_peers_file_is_checked_key_by_key(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("secret\n")
    good = tmp_path / "peers.yaml"
    good.write_text(
        "peers:\n  tax:\n    address: psi.tax.example:443\n    token_file: token\n"
        "    server_name: psi.tax.example\n    tenants: [alice]\n"
    )
    registry = load_peers(good)
    peer = registry.get("alice", "tax")
    assert (peer.address, peer.tls, peer.token) == ("psi.tax.example:443", True, "secret")
    with pytest.raises(InvalidInputError):
        registry.get("bob", "tax")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "peers:\n  tax:\n    adress: x:1\n    tls: false\n  local:\n    address: 10.0.0.1:50051\n"
        "    tls: false\n"
    )
    with pytest.raises(InvalidInputError) as info:
        load_peers(bad)
    fields = {v.field.split(": ", 1)[1] for v in info.value.violations}
    assert fields == {"peers.tax.adress", "peers.tax.address", "peers.local.tls"}


# ------------------------------------------------------------------------- a full disk


def test_full_disk_during_upload_is_resource_exhausted_and_loses_nothing(
    server: tuple[Server, int], alice: Client, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = alice.upload(sample("parks"), "kept", kind="parks")

    def full(self: object, piece: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage_files.Sink, "_write", full)
    with pytest.raises(ResourceExhaustedError) as info:
        alice.upload(sample("spaces"), "spaces", kind="spaces")
    assert info.value.status_code == "RESOURCE_EXHAUSTED"
    assert "disk is full" in str(info.value)
    monkeypatch.undo()
    assert [d.dataset_id for d in alice.list()] == [kept]
    assert not list((server[0].config.data_dir / "tmp").iterdir())  # no partial file
    assert alice.download(kept).equals(sample("parks"))


def test_a_join_message_past_its_limit_is_refused_before_it_is_held() -> None:
    def chunks() -> Iterator[join_pb2.JoinMessageChunk]:
        for seq in range(10**6):  # would be 4 GB; refused at the third chunk
            yield join_pb2.JoinMessageChunk(data=b"x" * 4096, seq=seq)

    with pytest.raises(ResourceExhaustedError):
        gather_message(chunks(), max_bytes=10_000)


def test_the_engine_memory_budget_comes_from_the_environment(
    tmp_path: Path, start: Callable[..., tuple[Server, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = zone_opt.memory_budget()
    monkeypatch.setenv("ZONE_OPT_MEMORY_BUDGET_MB", "64")
    server, _ = start(tmp_path / "data")
    try:
        assert zone_opt.memory_budget() == 64 * 1024 * 1024
        with pytest.raises(ResourceExhaustedError):  # 2 x 10^8 rows of prices: over 64 MiB
            zone_opt.matching.assign_sparse([0], [0], [1.0], (200_000_000, 200_000_000))
    finally:
        server.stop(0.5)
        zone_opt.set_memory_budget(before)
