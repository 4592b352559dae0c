"""The ``carbon_allocate`` job: :func:`zone_opt.carbon.allocate_park` on stored datasets.

Stages: load inputs, allocate, store results (rows, annual totals, KPIs, reconciliation
as result datasets under ids derived from the job id, so a rerun after a crash replaces
them). Complexity: that of :func:`zone_opt.carbon.allocate_park`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pyarrow as pa
import yaml

from zone_opt.carbon.audit import GENESIS
from zone_opt.carbon.park import ParkCarbonConfig, allocate_park
from zone_opt.errors import InvalidInputError
from zone_opt.service.jobs import JobContext

__all__ = ["carbon_allocate"]

_OPTIONAL = ("tenancies", "spaces", "park_assets", "grid_factors")


def _config(text: str) -> ParkCarbonConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError.single("park_yaml", None, f"not YAML: {exc}") from None
    config = ParkCarbonConfig.from_dict(raw if raw is not None else {})
    return dataclasses.replace(config, tables={})


def carbon_allocate(ctx: JobContext) -> dict[str, Any]:
    """Allocate a park's emissions; result: the four dataset ids, the manifest (JSON), the
    Merkle root and chained head (hex) and whether the reconciliation balances."""
    job, params = ctx.job, ctx.job.params
    ctx.checkpoint(0.0, "loading inputs")
    config = _config(params["park_yaml"])
    meters = ctx.datasets.read(job.tenant, params["meters"], "meters", "meters_dataset_id")
    tables: dict[str, pa.Table] = {
        name: ctx.datasets.read(job.tenant, params[name], name, f"{name}_dataset_id")
        for name in _OPTIONAL
        if params.get(name)
    }
    previous = bytes.fromhex(params.get("previous_head") or GENESIS.hex())
    ctx.checkpoint(0.2, "allocating")
    result = allocate_park(config, meters, previous_head=previous, **tables)
    ctx.checkpoint(0.8, "storing results")
    ids = {}
    for name in ("rows", "annual", "kpis", "reconciliation"):
        ids[name] = f"{job.job_id}-carbon-{name}"
        ctx.datasets.put_result(
            job.tenant, ids[name], f"carbon {name} of park {config.park_id}", getattr(result, name)
        )
    return {
        "rows_dataset_id": ids["rows"],
        "annual_dataset_id": ids["annual"],
        "kpis_dataset_id": ids["kpis"],
        "reconciliation_dataset_id": ids["reconciliation"],
        "manifest_json": json.dumps(result.manifest, ensure_ascii=False),
        "audit_root": result.audit_root.hex(),
        "audit_head": result.audit_head.hex(),
        "balanced": all(result.reconciliation["balanced"].to_pylist()),
    }
