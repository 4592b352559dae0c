"""What the client returns: datasets, operations with their typed results, and the
progress a facility plan reports while it solves."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from google.protobuf.message import Message

from zone_opt.api.v1 import datasets_pb2, operations_pb2
from zone_opt.arguments import check_choice, check_real
from zone_opt.errors import ServiceError
from zone_opt.rpc.enums import kind_from_proto
from zone_opt.rpc.operations import unpack_result

__all__ = [
    "CarbonInputs",
    "Dataset",
    "DispatchRunOptions",
    "FacilitiesProgress",
    "JoinRun",
    "Operation",
    "PeerDataset",
    "dataset_of",
    "facilities_progress",
    "operation_of",
]


R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class DispatchRunOptions:
    """How the server runs a dispatch (``DispatchOptions`` on the wire), checked when made.

    Attributes:
        rolling_h: window length of a rolling horizon; None: one model for the horizon.
        mip_rel_gap: HiGHS's relative MIP gap, in [0, 1).
        workers: 1 or 2 windows solved in parallel.
        window_time_limit_s: HiGHS's time limit per window; None: none.
        time_limit_s: the whole operation's limit once it starts (past it the operation
            fails with DEADLINE_EXCEEDED at its next window); None: none.
    """

    rolling_h: float | None = None
    mip_rel_gap: float = 1e-4
    workers: int = 1
    window_time_limit_s: float | None = None
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        check_real("mip_rel_gap", self.mip_rel_gap, low=0.0, high=1.0)
        check_choice("workers", self.workers, (1, 2))
        for name in ("rolling_h", "window_time_limit_s", "time_limit_s"):
            value = getattr(self, name)
            if value is not None:
                check_real(name, value, low=0.0, low_open=True)


@dataclass(frozen=True)
class CarbonInputs:
    """The datasets of a carbon allocation besides its meters, each optional (ids of this
    tenant's datasets; empty: not given)."""

    tenancies_id: str = ""
    spaces_id: str = ""
    park_assets_id: str = ""
    grid_factors_id: str = ""


@dataclass(frozen=True)
class PeerDataset:
    """A dataset on another zone-opt server that a join reads: the peer's name in this
    server's registry (``zone-opt serve --join-peers``), the dataset id there, and the token
    to present when the registration carries none."""

    peer: str
    dataset_id: str
    token: str = ""


@dataclass(frozen=True)
class JoinRun:
    """What :meth:`Client.run_join` produced: the stored joined rows (intersection and
    labelled modes), or the count and sum (cardinality and sum modes; None when the
    sender withheld them)."""

    result_dataset_id: str | None = None
    rows: int | None = None
    count: int | None = None
    sum: int | None = None


@dataclass(frozen=True)
class Dataset:
    """A stored dataset (no data)."""

    dataset_id: str
    name: str
    kind: str
    num_rows: int
    num_bytes: int
    sha256: str
    columns: tuple[str, ...]
    created: datetime
    #: BLAKE3 of the stored stream for datasets uploaded with it, else empty.
    blake3: str = ""
    #: XXH3-128 of the stored stream for datasets uploaded with it (what :meth:`Client.upload`
    #: sends), else empty; exactly one of ``sha256``, ``blake3`` and ``xxh3_128`` is set.
    xxh3_128: str = ""


@dataclass(frozen=True)
class Operation:
    """A long-running operation; once it succeeded, ``result`` is its typed result message
    (``MatchResult``, ``DispatchResult``, ``AllocateCarbonResult``, ``PlanFacilitiesResult``
    or ``ComputeStatisticsResult``: ints are ints, enums are enums), else None."""

    name: str
    kind: str
    state: str  # QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED
    done: bool
    progress: float
    stage: str
    attempts: int
    error_code: int = 0
    error_message: str = ""
    result: Message | None = None

    def result_as(self, cls: type[R]) -> R:
        """``result``, checked to be a ``cls`` (e.g. ``matching_pb2.MatchResult``).

        Raises:
            ServiceError: the operation has no result (not done, or failed) or another one.
        """
        if not isinstance(self.result, cls):
            got = type(self.result).__name__ if self.result is not None else "no result"
            raise ServiceError(
                f"{self.name} ({self.state}): {got}, not a {cls.__name__}; {self.error_message}"
            )
        return self.result


def dataset_of(d: datasets_pb2.Dataset) -> Dataset:
    return Dataset(
        d.dataset_id,
        d.name,
        kind_from_proto(d.kind, "kind", allow_result=True),
        d.num_rows,
        d.num_bytes,
        d.sha256,
        tuple(d.columns),
        d.create_time.ToDatetime(),
        d.blake3,
        d.xxh3_128,
    )


def operation_of(op: operations_pb2.Operation) -> Operation:
    state = operations_pb2.OperationState.Name(op.metadata.state).removeprefix("OPERATION_STATE_")
    return Operation(
        name=op.name,
        kind=op.metadata.kind,
        state=state,
        done=op.done,
        progress=op.metadata.progress,
        stage=op.metadata.stage,
        attempts=op.metadata.attempts,
        error_code=op.error.code if op.HasField("error") else 0,
        error_message=op.error.message if op.HasField("error") else "",
        result=unpack_result(op.response) if op.HasField("response") else None,
    )


@dataclass(frozen=True)
class FacilitiesProgress:
    """Where a running PlanFacilities operation's MILP stands (CNY; ``gap`` relative)."""

    incumbent_cny: float
    bound_cny: float
    gap: float


def facilities_progress(op: Operation) -> FacilitiesProgress | None:
    """The incumbent, bound and gap of a running PlanFacilities operation, read from its
    stage, or None when it reports none (not in a MILP right now)."""
    found = dict(re.findall(r"(incumbent_cny|bound_cny|gap)=(-?inf|nan|[-+0-9.eE]+)", op.stage))
    if len(found) != 3:
        return None
    return FacilitiesProgress(**{key: float(value) for key, value in found.items()})


def planning_progress(op: Operation) -> dict[str, float] | None:
    """Deprecated (until 0.2): :func:`facilities_progress` as a dict."""
    progress = facilities_progress(op)
    return None if progress is None else dataclasses.asdict(progress)
