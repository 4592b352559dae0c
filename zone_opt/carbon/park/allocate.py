"""A park's run: inputs to grids, each source's step, then the tables, the manifest and
the audit seal (see :mod:`zone_opt.carbon.park`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from zone_opt.carbon.audit import GENESIS, MerkleProof, PackedRows, chain_head, merkle_root, proof
from zone_opt.carbon.park import sources
from zone_opt.carbon.park.config import ParkCarbonConfig, invalid, plain
from zone_opt.carbon.park.inputs import meter_grids, park_tenants, period_s_of, pv_wh
from zone_opt.carbon.park.ledger import Ledger, kpis, sha, table_digest
from zone_opt.carbon.scope2 import grid_factor
from zone_opt.datasets.grid_factors import grid_factors_table

__all__ = ["ParkCarbonResult", "allocate_park"]


@dataclass(frozen=True)
class ParkCarbonResult:
    """The result of :func:`allocate_park` (see the module documentation).

    Attributes:
        rows: Arrow table (park_id, enterprise_id, hour, scope, source, co2e_g).
        annual: Arrow table (enterprise_id, scope, source, co2e_g).
        kpis: Arrow table, one row per tenant and one for the park (``enterprise_id ==
            "park"``).
        reconciliation: Arrow table (method, source, inventory_g, tenants_g, landlord_g,
            export_g, balanced).
        hourly: Arrow table (hour, method, source, co2e_g): the park inventory per hour.
        manifest: methods, parameters, factor sets and input digests.
        audit_root: Merkle root of the canonical rows (:meth:`canonical_row`).
        previous_head, audit_head: the park's previous head and this run's chained head.
    """

    rows: pa.Table
    annual: pa.Table
    kpis: pa.Table
    reconciliation: pa.Table
    hourly: pa.Table
    manifest: dict[str, Any]
    audit_root: bytes
    previous_head: bytes
    audit_head: bytes
    packed: PackedRows

    def canonical_row(self, index: int) -> bytes:
        """Row ``index`` of :attr:`rows` in canonical form: ``canonical_row(park_id,
        enterprise_id, scope, source, hour (Unix s), co2e_g)``."""
        if not 0 <= index < len(self.packed):
            raise invalid("row", None, f"{index} is outside the {len(self.packed)} rows")
        return self.packed[index]

    def proof(self, index: int) -> tuple[bytes, MerkleProof]:
        """Row ``index`` in canonical form and its inclusion proof under
        :attr:`audit_root`; check it with :func:`zone_opt.carbon.verify`. O(rows)."""
        return self.canonical_row(index), proof(self.packed, index)


def allocate_park(
    config: ParkCarbonConfig,
    meters: pa.Table,
    *,
    tenancies: pa.Table | None = None,
    spaces: pa.Table | None = None,
    park_assets: pa.Table | None = None,
    grid_factors: pa.Table | None = None,
    previous_head: bytes = GENESIS,
) -> ParkCarbonResult:
    """Account a park's emissions for its period; see the module documentation.

    Raises:
        InvalidInputError: naming ``meters.<column>`` and the row (negative or missing
            values, hours outside the period or not on the hour, duplicate enterprise-hours),
            ``factor_set`` / ``grid_region`` (unknown factor set), ``park.<key>`` for a bad
            configuration, or the Scope 2 engine's fields.

    Complexity: O(meter rows + tenants x hours x sources), the heavy parts in the Rust core.
    """
    if config.hours <= 0:
        raise invalid("park.hours", None, f"{config.hours} must be positive")
    factors = grid_factors if grid_factors is not None else grid_factors_table()
    location = grid_factor(config.factor_set, config.grid_region, factors)
    residual = grid_factor(config.residual_factor_set, "national", factors)
    period_s = period_s_of(config)
    tenants = park_tenants(config, meters, tenancies, spaces, period_s)
    grids = meter_grids(meters, tenants, period_s)
    run = sources.Run(config, tenants, grids, Ledger(tenants, config.hours))
    pv, kwp = pv_wh(config, park_assets, period_s)
    s2 = sources.electricity(run, pv, kwp, location, residual)
    sources.natural_gas(run)
    sources.chp(run)
    sources.facilities(run)

    rows, packed = run.ledger.rows(config.park_id, period_s)
    root = merkle_root(packed)
    head = chain_head(previous_head, root)
    annual = (
        rows.group_by(["enterprise_id", "scope", "source"])
        .aggregate([("co2e_g", "sum")])
        .rename_columns(["enterprise_id", "scope", "source", "co2e_g"])
        .sort_by([("enterprise_id", "ascending"), ("scope", "ascending"), ("source", "ascending")])
    )
    inputs = {
        "meters": meters,
        "tenancies": tenancies,
        "spaces": spaces,
        "park_assets": park_assets,
        "grid_factors": factors,
    }
    manifest = _manifest(config, len(tenants), period_s[0], run.methods, rows.num_rows)
    manifest["factors"] = {"location": plain(location), "residual": plain(residual)}
    manifest["inputs_sha256"] = {
        **{name: table_digest(table) for name, table in inputs.items()},
        "config": sha(config.canonical()),
    }
    manifest["audit"] = {
        "merkle_root": root.hex(),
        "previous_head": previous_head.hex(),
        "head": head.hex(),
    }
    return ParkCarbonResult(
        rows=rows,
        annual=annual,
        kpis=kpis(config, tenants, grids, s2, run.ledger),
        reconciliation=run.ledger.reconciliation(),
        hourly=run.ledger.hourly(period_s),
        manifest=manifest,
        audit_root=root,
        previous_head=previous_head,
        audit_head=head,
        packed=packed,
    )


def _manifest(
    config: ParkCarbonConfig, tenants: int, first_hour_s: Any, methods: dict[str, Any], rows: int
) -> dict[str, Any]:
    """The manifest's description of the run (factors, digests and the seal are added by
    :func:`allocate_park`, in the order the keys are written)."""
    return {
        "park_id": config.park_id,
        "period": {
            "start": config.start,
            "hours": config.hours,
            "first_hour_unix_s": int(first_hour_s),
        },
        "tenants": tenants,
        "factors": {},
        "methods": methods,
        "kpi": {
            "tce": config.tce,
            "clean_share": "(on-site PV + hourly matched green) / electricity",
        },
        "rows": {
            "count": rows,
            "canonical": "canonical_row(park_id, enterprise_id, scope, source, hour (Unix s), "
            "co2e_g)",
            "order": "tenant grids by (scope, source) tenant-major, then landlord/export",
        },
    }
