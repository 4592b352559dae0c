"""The typed operations: params and results survive the job store's encoding exactly, and
jobs an older server recorded (unversioned dicts) are still read as typed results."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import Message

from zone_opt.api.v1 import carbon_pb2, datasets_pb2, dispatch_pb2, facilities_pb2, matching_pb2
from zone_opt.rpc.operations import RESULT_TYPES, unpack_result
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations import OPERATIONS, job_to_operation
from zone_opt.service.operations.carbon import CarbonParams
from zone_opt.service.operations.dispatch import DispatchParams
from zone_opt.service.operations.facilities import PlanParams
from zone_opt.service.operations.matching import MatchParams
from zone_opt.service.operations.statistics import StatisticsParams
from zone_opt.service.storage.jobstore import Job, JobState

PARAMS: dict[str, Any] = {
    "statistics": StatisticsParams("d1", time_limit_s=2.5),
    "match": MatchParams("s", "e", "p", "t", "stable", 5, {"size": 2.0}, "2026-12-01", 60.0),
    "carbon_allocate": CarbonParams("m", "park_id: P\n", previous_head="ab" * 32),
    "plan_facilities": PlanParams("scenarios: []", 1e-4, ["shapley"], None),
    "dispatch": DispatchParams("x: 1", "prof", "2026-07-01T00:00:00", 48.0, 24.0, 1e-3, 2),
}
RESULTS: dict[str, Message] = {
    "statistics": datasets_pb2.ComputeStatisticsResult(statistics_dataset_id="j-statistics"),
    "match": matching_pb2.MatchResult(
        assignments_dataset_id="a",
        unmatched_dataset_id="u",
        summary={"n_matched": 457.0},
        statistics=matching_pb2.MatchStatistics(
            mode=matching_pb2.MATCH_MODE_STABLE, n_matched=457, total_score=2**40 + 1
        ),
    ),
    "carbon_allocate": carbon_pb2.AllocateCarbonResult(
        rows_dataset_id="r", audit_root=b"\x01" * 32, audit_head=b"\x02" * 32, balanced=True
    ),
    "plan_facilities": facilities_pb2.PlanFacilitiesResult(
        scenarios=[
            facilities_pb2.ScenarioPlan(
                name="s", status=facilities_pb2.PLAN_STATUS_OPTIMAL, objective_cny=1.5
            )
        ]
    ),
    "dispatch": dispatch_pb2.DispatchResult(
        status=dispatch_pb2.DISPATCH_STATUS_INFEASIBLE,
        objective_cny=float("nan"),
        infeasibility=["balance[3]"],
    ),
}


def _job(kind: str, params: dict[str, Any], result: dict[str, Any] | None) -> Job:
    return Job(
        job_id="j",
        tenant="t",
        kind=kind,
        request_id="",
        params=params,
        state=JobState.SUCCEEDED,
        progress=1.0,
        stage="",
        attempts=1,
        generation=1,
        cancel_requested=False,
        result=result,
        error_code="",
        error_message="",
        created_s=0.0,
        updated_s=0.0,
    )


def test_every_operation_is_registered_with_a_result_type_the_client_knows() -> None:
    assert set(OPERATIONS) == set(PARAMS)
    for spec in OPERATIONS.values():
        assert RESULT_TYPES[spec.result_type.DESCRIPTOR.full_name] is spec.result_type


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_params_and_results_round_trip_through_the_store_encoding(kind: str) -> None:
    spec: OperationSpec[Any, Any] = OPERATIONS[kind]
    encoded = spec.encode_params(PARAMS[kind])
    assert encoded["version"] == 1
    assert spec.decode_params(encoded) == PARAMS[kind]
    stored = spec.encode_result(RESULTS[kind])
    got = unpack_result(job_to_operation(_job(kind, encoded, stored)).response)
    expected = RESULTS[kind]
    if kind == "dispatch":  # NaN != NaN: compare the rest, and that it is NaN
        assert got.objective_cny != got.objective_cny  # type: ignore[attr-defined]
        got.objective_cny = expected.objective_cny = 0.0  # type: ignore[attr-defined]
    assert got == expected
    assert type(got) is type(expected)


def test_a_match_recorded_by_an_older_server_reads_as_typed() -> None:
    legacy_params = {
        "spaces": "s",
        "enterprises": "e",
        "parks": "p",
        "tenancies": "",
        "mode": "optimal",
        "k": 3,
        "weights": {},
        "now": "2026-12-01T00:00:00",
    }
    spec = OPERATIONS["match"]
    params = spec.decode_params(legacy_params)
    assert params == MatchParams("s", "e", "p", "", "optimal", 3, {}, "2026-12-01", None)
    legacy_result = {
        "assignments_dataset_id": "a",
        "unmatched_dataset_id": "u",
        "summary": {"n_matched": 457.0, "total_score": 9.0, "seconds_solve": 0.25},
    }
    op = job_to_operation(_job("match", legacy_params, legacy_result))
    result = unpack_result(op.response)
    assert isinstance(result, matching_pb2.MatchResult)
    assert result.statistics.n_matched == 457
    assert isinstance(result.statistics.n_matched, int)
    assert result.statistics.seconds["solve"] == 0.25


def test_older_dispatch_and_carbon_results_read_as_typed() -> None:
    dispatch = unpack_result(
        job_to_operation(
            _job(
                "dispatch",
                {},
                {
                    "status": "optimal",
                    "objective_cny": 12.5,
                    "mip_gap": 0.0,
                    "build_s": 1.0,
                    "solve_s": 2.0,
                    "windows": 2,
                    "timeseries_dataset_id": "ts",
                },
            )
        ).response
    )
    assert isinstance(dispatch, dispatch_pb2.DispatchResult)
    assert dispatch.status == dispatch_pb2.DISPATCH_STATUS_OPTIMAL
    carbon = unpack_result(
        job_to_operation(
            _job(
                "carbon_allocate",
                {},
                {
                    "rows_dataset_id": "r",
                    "annual_dataset_id": "a",
                    "kpis_dataset_id": "k",
                    "reconciliation_dataset_id": "c",
                    "manifest_json": "{}",
                    "audit_root": "01" * 32,
                    "audit_head": "02" * 32,
                    "balanced": True,
                },
            )
        ).response
    )
    assert isinstance(carbon, carbon_pb2.AllocateCarbonResult)
    assert carbon.audit_root == b"\x01" * 32
