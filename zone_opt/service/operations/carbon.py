"""Carbon: ``AllocateCarbon`` as an operation, :func:`zone_opt.carbon.allocate_park` on
stored datasets.

Stages: load inputs, allocate, store results (rows, annual totals, KPIs, reconciliation as
result datasets under ids derived from the job id, so a rerun after a crash replaces
them). Complexity: that of :func:`zone_opt.carbon.allocate_park`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from zone_opt.api.v1 import carbon_pb2
from zone_opt.carbon.audit import GENESIS
from zone_opt.carbon.park import ParkCarbonConfig, allocate_park, parse_park_config
from zone_opt.errors import InvalidInputError
from zone_opt.service.jobs.runner import JobContext
from zone_opt.service.jobs.spec import OperationSpec
from zone_opt.service.operations.fields import required
from zone_opt.service.storage.datasets import DatasetStore

__all__ = ["OPERATION", "CarbonParams", "run"]

#: Optional tables of an allocation, each with the request field naming its dataset.
OPTIONAL = ("tenancies", "spaces", "park_assets", "grid_factors")
#: Largest park file accepted.
MAX_PARK_YAML_BYTES = 1 << 20


@dataclass(frozen=True)
class CarbonParams:
    """An AllocateCarbon request, validated."""

    meters_dataset_id: str
    park_yaml: str
    tenancies_dataset_id: str = ""
    spaces_dataset_id: str = ""
    park_assets_dataset_id: str = ""
    grid_factors_dataset_id: str = ""
    #: Hex of the park's previous audit head (empty: the genesis head).
    previous_head: str = ""
    time_limit_s: float | None = None

    @classmethod
    def from_request(cls, request: carbon_pb2.AllocateCarbonRequest) -> CarbonParams:
        if not request.park_yaml.strip():
            raise InvalidInputError.single("park_yaml", None, "required")
        if len(request.park_yaml.encode()) > MAX_PARK_YAML_BYTES:
            raise InvalidInputError.single("park_yaml", None, "larger than 1 MiB")
        if request.previous_head and len(request.previous_head) != 32:
            raise InvalidInputError.single("previous_head", None, "a SHA-256 head has 32 bytes")
        params = cls(
            meters_dataset_id=required(request.meters_dataset_id, "meters_dataset_id"),
            park_yaml=request.park_yaml,
            tenancies_dataset_id=request.tenancies_dataset_id,
            spaces_dataset_id=request.spaces_dataset_id,
            park_assets_dataset_id=request.park_assets_dataset_id,
            grid_factors_dataset_id=request.grid_factors_dataset_id,
            previous_head=request.previous_head.hex(),
        )
        params.config()  # INVALID_ARGUMENT now, not a failed operation
        return params

    def dataset_ids(self) -> dict[str, str]:
        """``{table: dataset id}`` of the tables given (meters always)."""
        ids = {t: getattr(self, f"{t}_dataset_id") for t in ("meters", *OPTIONAL)}
        return {t: i for t, i in ids.items() if i}

    def check_datasets(self, datasets: DatasetStore, tenant: str) -> None:
        """Each dataset exists for ``tenant`` and is of its table's kind."""
        for table, dataset_id in self.dataset_ids().items():
            datasets.get(tenant, dataset_id, table, f"{table}_dataset_id")

    def config(self) -> ParkCarbonConfig:
        """The park file, parsed and checked (its tables come from the datasets)."""
        return dataclasses.replace(parse_park_config(self.park_yaml), tables={})


def run(ctx: JobContext, params: CarbonParams) -> carbon_pb2.AllocateCarbonResult:
    """Allocate a park's emissions; the four result dataset ids, the manifest (JSON), the
    Merkle root and chained head, and whether the reconciliation balances."""
    job = ctx.job
    ctx.checkpoint(0.0, "loading inputs")
    config = params.config()
    tables: dict[str, pa.Table] = {
        name: ctx.datasets.read(job.tenant, dataset_id, name, f"{name}_dataset_id")
        for name, dataset_id in params.dataset_ids().items()
    }
    meters = tables.pop("meters")
    previous = bytes.fromhex(params.previous_head) if params.previous_head else GENESIS
    ctx.checkpoint(0.2, "allocating")
    result = allocate_park(config, meters, previous_head=previous, **tables)
    ctx.checkpoint(0.8, "storing results")
    ids = {}
    for name in ("rows", "annual", "kpis", "reconciliation"):
        ids[name] = f"{job.job_id}-carbon-{name}"
        ctx.datasets.put_result(
            job.tenant, ids[name], f"carbon {name} of park {config.park_id}", getattr(result, name)
        )
    return carbon_pb2.AllocateCarbonResult(
        rows_dataset_id=ids["rows"],
        annual_dataset_id=ids["annual"],
        kpis_dataset_id=ids["kpis"],
        reconciliation_dataset_id=ids["reconciliation"],
        manifest_json=json.dumps(result.manifest, ensure_ascii=False),
        audit_root=result.audit_root,
        audit_head=result.audit_head,
        balanced=all(result.reconciliation["balanced"].to_pylist()),
    )


def _legacy_params(raw: Mapping[str, Any]) -> CarbonParams:
    return CarbonParams(
        meters_dataset_id=str(raw["meters"]),
        park_yaml=str(raw["park_yaml"]),
        tenancies_dataset_id=str(raw.get("tenancies") or ""),
        spaces_dataset_id=str(raw.get("spaces") or ""),
        park_assets_dataset_id=str(raw.get("park_assets") or ""),
        grid_factors_dataset_id=str(raw.get("grid_factors") or ""),
        previous_head=str(raw.get("previous_head") or ""),
    )


def _legacy_result(raw: Mapping[str, Any]) -> carbon_pb2.AllocateCarbonResult:
    return carbon_pb2.AllocateCarbonResult(
        rows_dataset_id=str(raw["rows_dataset_id"]),
        annual_dataset_id=str(raw["annual_dataset_id"]),
        kpis_dataset_id=str(raw["kpis_dataset_id"]),
        reconciliation_dataset_id=str(raw["reconciliation_dataset_id"]),
        manifest_json=str(raw["manifest_json"]),
        audit_root=bytes.fromhex(raw["audit_root"]),
        audit_head=bytes.fromhex(raw["audit_head"]),
        balanced=bool(raw["balanced"]),
    )


OPERATION = OperationSpec(
    kind="carbon_allocate",
    params_type=CarbonParams,
    result_type=carbon_pb2.AllocateCarbonResult,
    run=run,
    legacy_params=_legacy_params,
    legacy_result=_legacy_result,
)
