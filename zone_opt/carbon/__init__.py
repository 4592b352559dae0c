"""Carbon accounting: emissions allocated in integer grams, exact hour by hour, with an
audit trail.

- :func:`allocate_pro_rata`: divide hourly totals by metered use (largest remainder).
- :func:`shapley_allocation`: Shapley values of a shared facility with a piecewise-linear
  emission curve, exact for small tenant counts, sampled with standard errors beyond.
- :func:`merkle_root`, :func:`proof`, :func:`verify`, :func:`chain_head`: an RFC 6962
  Merkle tree over canonical result rows (:func:`canonical_row`).
- :func:`scope2_hourly`: Scope 2 location- and market-based per tenant-hour, with on-site
  PV shared and green power matched hour by hour (how: :class:`Scope2Options`);
  :func:`grid_factor` looks up the
  versioned MEE factor sets; :func:`green_from_certificates` refuses double claims.
- :func:`chp_split`: CHP emissions between heat and power (efficiency, energy-content,
  exergy methods, chosen with :class:`ChpOptions`), exact per hour.
- :func:`allocate_park`: a park's accounting over the foundation tables (meters,
  tenancies, park_assets, grid_factors): per tenant x hour x scope x source rows, annual
  totals, KPIs, an exact reconciliation, the manifest and a chained Merkle root;
  :func:`load_park_config` reads the park YAML.
"""

from zone_opt.carbon.allocation import (
    ProRataAllocation,
    ShapleyAllocation,
    allocate_pro_rata,
    allocate_pro_rata_pooled,
    shapley_allocation,
)
from zone_opt.carbon.audit import (
    GENESIS,
    MerkleProof,
    PackedRows,
    canonical_row,
    chain_head,
    merkle_root,
    proof,
    tenant_hour_rows,
    verify,
)
from zone_opt.carbon.chp import ChpMethod, ChpOptions, ChpSplit, chp_split
from zone_opt.carbon.park import (
    ParkCarbonConfig,
    ParkCarbonResult,
    allocate_park,
    load_park_config,
)
from zone_opt.carbon.scope2 import (
    GridFactor,
    Scope2Options,
    Scope2Result,
    green_from_certificates,
    grid_factor,
    scope2_hourly,
)

__all__ = [
    "GENESIS",
    "ChpMethod",
    "ChpOptions",
    "ChpSplit",
    "GridFactor",
    "MerkleProof",
    "PackedRows",
    "ParkCarbonConfig",
    "ParkCarbonResult",
    "ProRataAllocation",
    "Scope2Options",
    "Scope2Result",
    "ShapleyAllocation",
    "allocate_park",
    "allocate_pro_rata",
    "allocate_pro_rata_pooled",
    "canonical_row",
    "chain_head",
    "chp_split",
    "green_from_certificates",
    "grid_factor",
    "load_park_config",
    "merkle_root",
    "proof",
    "scope2_hourly",
    "shapley_allocation",
    "tenant_hour_rows",
    "verify",
]
