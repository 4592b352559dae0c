"""MatchingService over a real server, checked against the library called directly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

import grpc
import pyarrow as pa
import pytest

from zone_opt import matching
from zone_opt.api.v1 import matching_pb2, matching_pb2_grpc
from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, NotFoundError
from zone_opt.matching import MatchOptions
from zone_opt.rpc.status import from_rpc_error
from zone_opt.service.server import Server, ServerSettings

TABLES = ("spaces", "enterprises", "parks", "tenancies")


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(c, "ascending") for c in ("enterprise_id", "space_id")])


def _upload_all(client: Client, sample: Callable[[str], pa.Table]) -> dict[str, str]:
    return {name: client.upload(sample(name), name, kind=name) for name in TABLES}


@pytest.mark.parametrize("mode", ["optimal", "stable"])
def test_match_operation_equals_the_library(
    alice: Client, sample: Callable[[str], pa.Table], mode: Literal["optimal", "stable"]
) -> None:
    ids = _upload_all(alice, sample)
    op = alice.submit_match(
        ids["spaces"],
        ids["enterprises"],
        ids["parks"],
        tenancies_id=ids["tenancies"],
        options=MatchOptions(mode=mode),
    )
    done = alice.wait(op, 120)
    assert done.state == "SUCCEEDED", done.error_message
    result = done.result_as(matching_pb2.MatchResult)
    got = alice.download(result.assignments_dataset_id)
    expected = matching.match(
        sample("spaces"),
        sample("enterprises"),
        parks=sample("parks"),
        tenancies=sample("tenancies"),
        options=MatchOptions(mode=mode),
    )
    assert _sorted(got).equals(_sorted(expected.assignments))
    unmatched = alice.download(result.unmatched_dataset_id)
    assert unmatched.num_rows == expected.unmatched.num_rows
    assert result.statistics.n_matched == expected.summary.n_matched
    assert result.summary["n_matched"] == expected.summary.n_matched  # the deprecated map


def test_recommend_equals_the_library(alice: Client, sample: Callable[[str], pa.Table]) -> None:
    args = [sample(n) for n in TABLES]
    got = alice.recommend(*args, options=MatchOptions(k=5))
    expected = matching.recommend(
        args[0], args[1], parks=args[2], tenancies=args[3], options=MatchOptions(k=5)
    )
    assert got.equals(expected)


def test_every_option_travels_to_the_server(
    alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    """Weights, date and include_tenants reach the library as given (Match and Recommend)."""
    options = MatchOptions(
        mode="stable",
        k=4,
        weights=matching.ScoreWeights(distance=0.0, cost=1.0, size=0.5, chain=0.0, carbon=0.2),
        now=date(2026, 3, 1),
        include_tenants=True,
    )
    args = [sample(n) for n in TABLES]
    expected = matching.recommend(
        args[0], args[1], parks=args[2], tenancies=args[3], options=options
    )
    assert alice.recommend(*args, options=options).equals(expected)
    default = matching.recommend(args[0], args[1], parks=args[2], tenancies=args[3])
    assert not default.equals(expected)  # the options change the answer
    ids = _upload_all(alice, sample)
    op = alice.submit_match(
        ids["spaces"], ids["enterprises"], ids["parks"], tenancies_id=ids["tenancies"],
        options=options,
    )  # fmt: skip
    done = alice.wait(op, 120)
    assert done.state == "SUCCEEDED", done.error_message
    got = alice.download(done.result_as(matching_pb2.MatchResult).assignments_dataset_id)
    direct = matching.match(args[0], args[1], parks=args[2], tenancies=args[3], options=options)
    assert _sorted(got).equals(_sorted(direct.assignments))


def test_match_refuses_unknown_datasets_and_bad_options(
    alice: Client, bob: Client, sample: Callable[[str], pa.Table]
) -> None:
    ids = _upload_all(alice, sample)
    with pytest.raises(NotFoundError):  # another tenant's datasets
        bob.submit_match(ids["spaces"], ids["enterprises"], ids["parks"])
    with pytest.raises(InvalidInputError) as err:
        alice.submit_match(ids["spaces"], "", ids["parks"])
    assert err.value.violations[0].field == "enterprises_dataset_id"
    # Refused when it arrives (INVALID_ARGUMENT with the reason), not a failed operation.
    # (MatchOptions cannot spell an unknown criterion: sent as a raw request, as another
    # language's client could.)
    request = matching_pb2.MatchRequest(
        request_id="unknown-criterion",
        spaces_dataset_id=ids["spaces"],
        enterprises_dataset_id=ids["enterprises"],
        parks_dataset_id=ids["parks"],
        options=matching_pb2.MatchOptions(weights={"nope": 1}),
    )
    stub = matching_pb2_grpc.MatchingServiceStub(alice._channel)
    with pytest.raises(grpc.RpcError) as raw:
        stub.Match(request, metadata=(("authorization", "Bearer token-alice"),), timeout=10)
    error = from_rpc_error(raw.value)
    assert isinstance(error, InvalidInputError)
    assert error.status_code == "INVALID_ARGUMENT"
    assert error.violations[0].field == "options.weights"
    assert "nope" in str(error)


def test_cancel_stops_a_match_without_results(
    alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    ids = _upload_all(alice, sample)
    first = alice.submit_match(ids["spaces"], ids["enterprises"], ids["parks"])
    second = alice.submit_match(
        ids["spaces"], ids["enterprises"], ids["parks"], options=MatchOptions(mode="stable")
    )
    alice.cancel(second)  # queued behind the first, or at its first stage boundary
    assert alice.wait(second, 60).state == "CANCELLED"
    done = alice.wait(first, 120)
    assert done.state == "SUCCEEDED"
    results = {d.dataset_id for d in alice.list() if d.kind == "result"}
    result = done.result_as(matching_pb2.MatchResult)
    assert results == {result.assignments_dataset_id, result.unmatched_dataset_id}


# ---- compute slots: inline Recommend calls computing at once ---------------------------


def _concurrent_recommends(
    port: int, args: list[pa.Table], calls: int, timeout_s: float = 20
) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * calls

    def call(i: int) -> None:
        with Client(f"127.0.0.1:{port}", token="token-alice", timeout_s=timeout_s) as client:
            try:
                client.recommend(*args, options=MatchOptions(k=3))
            except BaseException as exc:  # reported to the test
                outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


class _Gauge:
    """Wraps ``matching.recommend``: counts the calls inside it at once (each held 50 ms)."""

    def __init__(self, real: Callable[..., pa.Table]) -> None:
        self.real, self.inside, self.most = real, 0, 0
        self.lock = threading.Lock()

    def __call__(self, *args: object, **kwargs: object) -> pa.Table:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            time.sleep(0.05)
            return self.real(*args, **kwargs)
        finally:
            with self.lock:
                self.inside -= 1


@pytest.mark.parametrize("slots", [1, 3])
def test_recommend_computes_at_most_the_compute_slots_at_once(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
    monkeypatch: pytest.MonkeyPatch,
    slots: int,
) -> None:
    gauge = _Gauge(matching.recommend)
    monkeypatch.setattr(matching, "recommend", gauge)
    server, port = start(tmp_path / "data", compute_slots=slots)
    try:
        assert _concurrent_recommends(port, [sample(n) for n in TABLES], calls=8) == [None] * 8
    finally:
        server.stop(0.5)
    assert gauge.most == slots  # never more, and 8 callers do fill every slot


def test_a_call_waiting_for_a_slot_past_its_deadline_is_deadline_exceeded(
    tmp_path: Path,
    start: Callable[..., tuple[Server, int]],
    sample: Callable[[str], pa.Table],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real: Callable[..., pa.Table] = matching.recommend
    entered: list[float] = []

    def slow(*args: object, **kwargs: object) -> pa.Table:
        entered.append(time.monotonic())
        time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(matching, "recommend", slow)
    server, port = start(tmp_path / "data", compute_slots=1)
    try:
        outcomes = _concurrent_recommends(port, [sample(n) for n in TABLES], 2, timeout_s=1.0)
        time.sleep(1.0)  # the first call's computation ends; no second one starts
    finally:
        server.stop(0.5)
    codes = sorted(type(e).__name__ for e in outcomes)
    assert codes == ["DeadlineExceededError", "DeadlineExceededError"]
    # One call held the slot and ran out of time inside; the other gave up waiting for
    # the slot at its deadline, without computing.
    assert len(entered) == 1


def test_compute_slots_below_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        ServerSettings(data_dir=tmp_path, compute_slots=0).check()
    assert err.value.violations[0].field == "compute_slots"
