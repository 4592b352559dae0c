"""The public API refuses bad scalars and oversized requests with typed errors that name
the parameter (issue 15, item 4): never an abort, a bare TypeError/OverflowError, or a
silent acceptance."""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import zone_opt
from zone_opt.arguments import (
    check_bytes,
    check_choice,
    check_date,
    check_datetime,
    check_flag,
    check_int,
    check_real,
)
from zone_opt.carbon import ChpOptions, chp_split, green_from_certificates, shapley_allocation
from zone_opt.carbon.allocation import MAX_SHAPLEY_SAMPLES
from zone_opt.errors import InvalidInputError, ResourceExhaustedError, ZoneOptError
from zone_opt.join import JoinOptions, JoinReceiver, JoinSender, StreamingJoinSender
from zone_opt.join.session import setup_key_kind
from zone_opt.matching import (
    Matcher,
    MatchOptions,
    assign_dense,
    assign_sparse,
    deferred_acceptance,
)
from zone_opt.optimise import SolveOptions
from zone_opt.optimise.dispatch import DispatchOptions, dispatch, load_scenario
from zone_opt.optimise.facilities import solve_facilities

sys.path.insert(0, str(Path(__file__).parent))
from matching_tables import make_tables

SCENARIO = Path(__file__).resolve().parent.parent / "datasets" / "sip_park_1" / "lp.yaml"


def refused(exc: pytest.ExceptionInfo[ZoneOptError], name: str) -> None:
    """The error names ``name``: in its message and, when it lists violations, as a field."""
    assert name in str(exc.value), str(exc.value)
    if isinstance(exc.value, InvalidInputError):
        assert name in {v.field for v in exc.value.violations}, exc.value.violations


# --- The helper ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, 1.0, "3", None, 2**70])
def test_check_int_refuses_non_integers_and_out_of_range(bad: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        check_int("n", bad, low=0, high=2**64)
    refused(exc, "n")


def test_check_int_takes_numpy_integers_and_bounds() -> None:
    assert check_int("n", np.int64(7), low=0, high=7) == 7
    assert type(check_int("n", np.uint8(3))) is int
    with pytest.raises(InvalidInputError, match="below the minimum 0"):
        check_int("n", -1, low=0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 10**400, "1.0", None, True])
def test_check_real_refuses_non_finite_and_non_numbers(bad: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        check_real("x", bad)
    refused(exc, "x")


def test_check_real_bounds_and_open_lower_bound() -> None:
    assert check_real("x", np.float32(0.5), low=0.0, high=1.0) == 0.5
    assert check_real("x", 0, low=0.0) == 0.0
    with pytest.raises(InvalidInputError, match="> 0"):
        check_real("x", 0.0, low=0.0, low_open=True)
    with pytest.raises(InvalidInputError, match="<= 1"):
        check_real("x", 1.5, high=1.0)


def test_check_flag_choice_date_bytes() -> None:
    assert check_flag("f", np.bool_(True)) is True
    for bad in (1, "yes", None):
        with pytest.raises(InvalidInputError, match="f: must be True or False"):
            check_flag("f", bad)
    assert check_choice("c", "a", ("a", "b")) == "a"
    with pytest.raises(InvalidInputError, match="c: must be one of"):
        check_choice("c", 1, ("1", "2"))
    assert check_date("d", dt.datetime(2024, 5, 6, 7)) == dt.date(2024, 5, 6)
    with pytest.raises(InvalidInputError, match="d: must be a date"):
        check_date("d", "2024-05-06")
    assert check_datetime("t", "2024-05-06T01:00") == dt.datetime(2024, 5, 6, 1)
    with pytest.raises(InvalidInputError, match="t: 'tomorrow' is not an ISO 8601"):
        check_datetime("t", "tomorrow")
    assert check_bytes("b", bytearray(b"x")) == b"x"
    with pytest.raises(InvalidInputError, match="b: must be bytes, got str"):
        check_bytes("b", "x")


def test_offending_values_are_echoed_bounded() -> None:
    with pytest.raises(InvalidInputError) as exc:
        check_choice("mode", "x" * 100_000, ("a", "b"))
    assert len(str(exc.value)) < 200


# --- Sizes the engine accepts but cannot hold: ResourceExhaustedError, no abort ---------


def test_assign_sparse_huge_shape_is_resource_exhausted() -> None:
    with pytest.raises(ResourceExhaustedError) as exc:
        assign_sparse([0], [0], [1.0], (2**32 - 2, 2**32 - 2))
    refused(exc, "shape")


def test_assign_sparse_shape_beyond_the_documented_limit_is_invalid() -> None:
    for shape in [(2**32 - 1, 1), (1, 2**64), (math.inf, 1), (1.5, 1), (True, 1), (1,)]:
        with pytest.raises(InvalidInputError) as exc:
            assign_sparse([0], [0], [1.0], shape)  # type: ignore[arg-type]
        refused(exc, "shape")


def test_deferred_acceptance_huge_n_proposers_is_resource_exhausted() -> None:
    with pytest.raises(ResourceExhaustedError) as exc:
        deferred_acceptance([0], [0], [1.0], [1.0], [1], n_proposers=2**32 - 2)
    refused(exc, "n_proposers")


@pytest.mark.parametrize("bad", [2**32, -1, 2.0, math.nan, "3"])
def test_deferred_acceptance_bad_n_proposers_is_invalid(bad: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        deferred_acceptance([0], [0], [1.0], [1.0], [1], n_proposers=bad)
    refused(exc, "n_proposers")


def test_the_memory_budget_is_settable_and_enforced() -> None:
    default = zone_opt.memory_budget()
    assert default >= 2**20
    try:
        zone_opt.set_memory_budget(1 << 20)
        with pytest.raises(ResourceExhaustedError) as exc:
            assign_sparse([0], [0], [1], (100_000, 100_000))
        refused(exc, "shape")
        # Within the budget the same call still works.
        assert assign_sparse([0], [0], [1], (1000, 1000)).n_matched == 1
    finally:
        zone_opt.set_memory_budget(0)
    assert zone_opt.memory_budget() == default


# --- Iteration counts with documented bounds -------------------------------------------


def test_shapley_samples_are_bounded() -> None:
    use = np.ones((30, 2))
    for bad in (10**12, MAX_SHAPLEY_SAMPLES + 2):
        with pytest.raises(InvalidInputError) as exc:
            shapley_allocation(use, [0, 100], [0, 1], exact=False, samples=bad)
        refused(exc, "samples")
    ok = shapley_allocation(use, [0, 100], [0, 1], exact=False, samples=8)
    assert ok.samples == 8


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"samples": 8.0}, "samples"),
        ({"samples": True}, "samples"),
        ({"exact": "yes"}, "exact"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
    ],
)
def test_shapley_scalars(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        shapley_allocation(np.ones((3, 1)), [0, 100], [0, 1], **kwargs)
    refused(exc, name)


# --- Scalars of the public functions ----------------------------------------------------


@pytest.mark.parametrize("hours", [math.nan, math.inf, -1.0, 0.0, 10**9, "24", None])
def test_dispatch_hours(hours: Any) -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(InvalidInputError) as exc:
        dispatch(scenario, "2024-07-01", hours)
    refused(exc, "hours")


@pytest.mark.parametrize("rolling_h", [math.nan, math.inf, 0.0, 1e-9])
def test_dispatch_rolling_h(rolling_h: float) -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(InvalidInputError) as exc:
        dispatch(scenario, "2024-07-01", 24.0, rolling_h=rolling_h)
    refused(exc, "rolling_h")


@pytest.mark.parametrize("start", ["not a date", None, 3.5, "9999-12-31"])
def test_dispatch_start(start: Any) -> None:
    scenario = load_scenario(SCENARIO)
    with pytest.raises(InvalidInputError) as exc:
        dispatch(scenario, start, 24.0)
    refused(exc, "start")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mip_rel_gap": math.nan}, "mip_rel_gap"),
        ({"mip_rel_gap": -1.0}, "mip_rel_gap"),
        ({"time_limit_s": math.inf}, "time_limit_s"),
        ({"time_limit_s": -1.0}, "time_limit_s"),
        ({"threads": 0}, "threads"),
        ({"threads": 2.5}, "threads"),
    ],
)
def test_solve_and_dispatch_options(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        SolveOptions(**kwargs)
    refused(exc, name)
    with pytest.raises(InvalidInputError) as exc:
        DispatchOptions(**kwargs)
    refused(exc, name)


def test_dispatch_options_workers() -> None:
    with pytest.raises(InvalidInputError) as exc:
        DispatchOptions(workers=3)
    refused(exc, "workers")


def test_solve_facilities_backend() -> None:
    with pytest.raises(InvalidInputError) as exc:
        solve_facilities(None, backend="gurobi")  # type: ignore[arg-type]
    refused(exc, "backend")


@pytest.mark.parametrize("now", ["2024-01-01", 20240101, math.nan])
def test_matcher_now(now: Any) -> None:
    t = make_tables(1)
    with pytest.raises(InvalidInputError) as exc:
        Matcher(t.spaces, t.enterprises, parks=t.parks, options=MatchOptions(now=now))
    refused(exc, "now")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"k": 2**40}, "k"),
        ({"k": True}, "k"),
        ({"mode": "best"}, "mode"),
        ({"include_tenants": "no"}, "include_tenants"),
    ],
)
def test_matcher_scalars(kwargs: dict[str, Any], name: str) -> None:
    t = make_tables(1)
    with pytest.raises(InvalidInputError) as exc:
        Matcher(t.spaces, t.enterprises, parks=t.parks, options=MatchOptions(**kwargs))
    refused(exc, name)


def test_assign_flags() -> None:
    with pytest.raises(InvalidInputError) as exc:
        assign_dense(np.eye(2), maximize="no")  # type: ignore[arg-type]
    refused(exc, "maximize")
    with pytest.raises(InvalidInputError) as exc:
        assign_sparse([0], [0], [1], (1, 1), perfect=1)  # type: ignore[arg-type]
    refused(exc, "perfect")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"heat_efficiency": math.nan}, "heat_efficiency"),
        ({"power_efficiency": math.inf}, "power_efficiency"),
        ({"method": "magic"}, "method"),
        ({"method": "exergy_carnot", "steam_temperature_c": math.nan}, "steam_temperature_c"),
        ({"method": "exergy_carnot", "ambient_temperature_c": math.inf}, "ambient_temperature_c"),
    ],
)
def test_chp_split_scalars(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        chp_split([100], [1.0], [1.0], options=ChpOptions(**kwargs))
    refused(exc, name)


@pytest.mark.parametrize(
    ("tenants", "hours", "name"),
    [(-1, 1, "tenants"), (1, math.inf, "hours"), (1, 2**40, "hours"), (1.5, 1, "tenants")],
)
def test_green_from_certificates_sizes(tenants: Any, hours: Any, name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        green_from_certificates([], [], [], [], tenants=tenants, hours=hours)
    refused(exc, name)


# --- Private joins -----------------------------------------------------------------------


@pytest.mark.parametrize("keys", [None, "K1", 5, [object()]])
def test_psi_keys_of_the_wrong_type(keys: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        JoinSender(keys, options=JoinOptions(key_kind="text"))
    refused(exc, "keys")
    with pytest.raises(InvalidInputError) as exc:
        JoinReceiver(keys, options=JoinOptions(key_kind="text"))
    refused(exc, "keys")


SESSION_FIELDS = {"mode", "verifiable", "key_kind", "protocol", "suite"}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_intersection": -1}, "min_intersection"),
        ({"min_intersection": 2**64}, "min_intersection"),
        ({"min_intersection": 1.5}, "min_intersection"),
        ({"verifiable": "yes"}, "verifiable"),
        ({"key_kind": "phone"}, "key_kind"),
        ({"mode": "everything"}, "mode"),
        ({"payload": "not a table"}, "payload"),
    ],
)
def test_psi_server_scalars(kwargs: dict[str, Any], name: str) -> None:
    session = {"key_kind": "text"} | {k: v for k, v in kwargs.items() if k in SESSION_FIELDS}
    other = {k: v for k, v in kwargs.items() if k not in SESSION_FIELDS}
    with pytest.raises(InvalidInputError) as exc:
        JoinSender(["A", "B"], options=JoinOptions(**session), **other)
    refused(exc, name)


@pytest.mark.parametrize("mode", ["intersection", "cardinality", "sum"])
def test_garbage_setup_given_to_request_is_refused(mode: Any) -> None:
    values = [1, 2] if mode == "sum" else None
    for garbage in (b"garbage", b"ZPSI" + bytes(60), bytes(200)):
        client = JoinReceiver(
            ["A", "B"], values=values, options=JoinOptions(mode=mode, key_kind="text")
        )
        with pytest.raises(InvalidInputError) as exc:
            client.request(garbage)
        refused(exc, "setup")
    client = JoinReceiver(
        ["A", "B"], values=values, options=JoinOptions(mode=mode, key_kind="text")
    )
    with pytest.raises(InvalidInputError) as exc:
        client.request("a setup")  # type: ignore[arg-type]
    refused(exc, "setup")


def test_a_setup_of_another_mode_given_to_request_is_refused() -> None:
    setup = JoinSender(
        ["A", "B"], options=JoinOptions(mode="cardinality", key_kind="text")
    ).setup_message()
    client = JoinReceiver(["A"], options=JoinOptions(mode="intersection", key_kind="text"))
    with pytest.raises(InvalidInputError) as exc:
        client.request(setup)
    refused(exc, "setup")
    # The right setup is accepted, and the session completes.
    server = JoinSender(["A", "B"], options=JoinOptions(key_kind="text"))
    setup = server.setup_message()
    client = JoinReceiver(["A", "C"], options=JoinOptions(key_kind="text"))
    result = client.finish(setup, server.respond(client.request(setup)))
    assert result.indices.tolist() == [0]


def test_psi_messages_of_the_wrong_type() -> None:
    server = JoinSender(["A"], options=JoinOptions(key_kind="text"))
    with pytest.raises(InvalidInputError) as exc:
        server.respond(None)  # type: ignore[arg-type]
    refused(exc, "request")
    client = JoinReceiver(["A"], options=JoinOptions(key_kind="text"))
    with pytest.raises(InvalidInputError) as exc:
        client.finish(server.setup_message(), 42)  # type: ignore[arg-type]
    refused(exc, "response")
    with pytest.raises(InvalidInputError) as exc:
        setup_key_kind(None)  # type: ignore[arg-type]
    refused(exc, "setup")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"buckets": 3}, "buckets"),
        ({"buckets": 2.0}, "buckets"),
        ({"batch_rows": 0}, "batch_rows"),
        ({"batch_rows": math.inf}, "batch_rows"),
    ],
)
def test_streaming_sizes(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        StreamingJoinSender(pa.table({"k": ["A"]}), "k", key_kind="text", **kwargs)
    refused(exc, name)
