"""Renamed services and names answer under their old names until zone-opt 0.2.

``PrivateJoinService`` and ``PlanningService`` are served by the same servicers as
``JoinService`` and ``FacilitiesService`` (grpc/README.md, "Renamed services"); the old
Python names resolve to the new objects with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import grpc
import pyarrow as pa
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import zone_opt
import zone_opt.client
import zone_opt.client.models
import zone_opt.errors
import zone_opt.join
import zone_opt.join.rfc9497
import zone_opt.privacy
from zone_opt.api.v1 import (
    facilities_pb2,
    facilities_pb2_grpc,
    join_pb2,
    join_pb2_grpc,
    planning_pb2_grpc,
    privacy_pb2_grpc,
)
from zone_opt.client import Client, Operation
from zone_opt.join.policy import JoinPolicy
from zone_opt.rpc.join import join_policy_from_proto, join_policy_to_proto
from zone_opt.service.server import RENAMED_SERVICES, SERVICE_NAMES, Server

MD = (("authorization", "Bearer token-alice"),)


def test_old_service_names_are_listed_and_serving(server: tuple[Server, int]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(reflect.ServerReflectionInfo(iter([request]), timeout=5))
        names = {s.name for s in response.list_services_response.service}
        health = health_pb2_grpc.HealthStub(channel)
        for old, new in RENAMED_SERVICES.items():
            assert {old, SERVICE_NAMES[new]} <= names
            status = health.Check(health_pb2.HealthCheckRequest(service=old), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.SERVING
    assert set(RENAMED_SERVICES) == {
        "zone_opt.api.v1.PrivateJoinService",
        "zone_opt.api.v1.PlanningService",
    }


def test_a_policy_set_under_the_old_join_service_reads_back_under_the_new(
    server: tuple[Server, int], alice: Client, sample: Callable[[str], pa.Table]
) -> None:
    dataset_id = alice.upload(sample("enterprises"), "ours", kind="enterprises")
    policy = JoinPolicy(
        dataset_id=dataset_id,
        key_column="enterprise_id",
        allowed_peers=("bob",),
        modes=("intersection",),
    )
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        old = privacy_pb2_grpc.PrivateJoinServiceStub(channel)
        new = join_pb2_grpc.JoinServiceStub(channel)
        request = join_pb2.SetJoinPolicyRequest(policy=join_policy_to_proto(policy))
        old.SetJoinPolicy(request, metadata=MD, timeout=10)
        got = new.GetJoinPolicy(
            join_pb2.GetJoinPolicyRequest(dataset_id=dataset_id), metadata=MD, timeout=10
        )
    assert join_policy_from_proto(got.policy) == policy


def test_the_old_planning_service_gives_the_same_answer(server: tuple[Server, int]) -> None:
    request = facilities_pb2.PlanFacilitiesRequest(scenario_yaml="scenarios: [")
    answers = []
    with grpc.insecure_channel(f"127.0.0.1:{server[1]}") as channel:
        for stub in (
            planning_pb2_grpc.PlanningServiceStub(channel),
            facilities_pb2_grpc.FacilitiesServiceStub(channel),
        ):
            with pytest.raises(grpc.RpcError) as err:
                stub.PlanFacilities(request, metadata=MD, timeout=10)
            answers.append((err.value.code(), err.value.details()))
    assert answers[0] == answers[1]
    assert answers[0][0] is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        (zone_opt.privacy, "PsiServer", zone_opt.join.JoinSender),
        (zone_opt.privacy, "PsiClient", zone_opt.join.JoinReceiver),
        (zone_opt.privacy, "PsiResult", zone_opt.join.JoinResult),
        (zone_opt.privacy, "StreamingPsiServer", zone_opt.join.StreamingJoinSender),
        (zone_opt.privacy, "StreamingPsiClient", zone_opt.join.StreamingJoinReceiver),
        (zone_opt.errors, "PrivacyPolicyError", zone_opt.errors.JoinPolicyError),
        (zone_opt, "PrivacyPolicyError", zone_opt.errors.JoinPolicyError),
        (zone_opt.client, "planning_progress", zone_opt.client.models.planning_progress),
    ],
)
def test_old_python_names_resolve_to_the_new_with_a_warning(
    module: object, old: str, new: object
) -> None:
    with pytest.warns(DeprecationWarning, match=f"{old} is deprecated"):
        assert getattr(module, old) is new


def test_old_submodule_and_unknown_names() -> None:
    with pytest.warns(DeprecationWarning, match="rfc9497 is deprecated"):
        assert zone_opt.privacy.rfc9497 is zone_opt.join.rfc9497
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no attribute 'PsiNothing'"):
            _ = zone_opt.privacy.PsiNothing


def test_the_old_progress_reader_still_returns_its_dict() -> None:
    op = Operation(
        name="op", kind="plan_facilities", state="RUNNING", done=False, progress=0.5,
        stage="base: incumbent_cny=120.5 bound_cny=100 gap=0.17", attempts=1,
    )  # fmt: skip
    progress = zone_opt.client.facilities_progress(op)
    assert progress == zone_opt.client.FacilitiesProgress(120.5, 100.0, 0.17)
    with pytest.warns(DeprecationWarning, match="planning_progress"):
        old = zone_opt.client.planning_progress
    assert callable(old)
    assert old(op) == {"incumbent_cny": 120.5, "bound_cny": 100.0, "gap": 0.17}
