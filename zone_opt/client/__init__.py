"""A typed Python client of the zone-opt gRPC server.

    from zone_opt.client import Client
    with Client("127.0.0.1:50051", token=TOKEN) as client:
        spaces_id = client.upload(spaces, "spaces 2026-11", kind="spaces")
        op = client.submit_match(spaces_id, enterprises_id, parks_id,
                                 options=MatchOptions(mode="stable"))
        done = client.wait(op, timeout_s=600)
        assignments = client.download(done.result.assignments_dataset_id)

Every error the server sends is raised as the matching :mod:`zone_opt.errors` class
(``InvalidInputError`` with its violations, ``NotFoundError``, ...) whose ``status_code``
names the gRPC status. Every call has a deadline (``timeout_s``); submissions carry a
request id, so retrying one with the same ``request_id`` never starts a second job.
Within the deadline, reads and submissions are retried on UNAVAILABLE and on
RESOURCE_EXHAUSTED with RetryInfo (``Client(..., retry=RetryPolicy(...))``;
``RetryPolicy.none()`` turns retries off; :mod:`zone_opt.client.retry` says which call is
retried when).
"""

from zone_opt._deprecated import renamed
from zone_opt.client.core import Client
from zone_opt.client.models import (
    CarbonInputs,
    Dataset,
    DispatchRunOptions,
    FacilitiesProgress,
    JoinRun,
    Operation,
    PeerDataset,
    facilities_progress,
)
from zone_opt.client.retry import RetryPolicy
from zone_opt.rpc.channel import TlsConfig

__all__ = [
    "CarbonInputs",
    "Client",
    "Dataset",
    "DispatchRunOptions",
    "FacilitiesProgress",
    "JoinRun",
    "Operation",
    "PeerDataset",
    "RetryPolicy",
    "TlsConfig",
    "facilities_progress",
]

#: Old names of renamed functions (DeprecationWarning until 0.2; see CHANGELOG.md).
__getattr__ = renamed(__name__, {"planning_progress": "zone_opt.client.models:planning_progress"})
