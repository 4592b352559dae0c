"""Park-level carbon accounting over the foundation tables: every gram, hour by hour, per
tenant, scope and source, reconciled with the park inventory and sealed in a Merkle tree.

:func:`allocate_park` reads ``meters`` (per enterprise and hour: electricity kWh, heat GJ,
gas m3), optionally ``tenancies`` + ``spaces`` (who is a tenant of the park),
``park_assets`` (the PV capacity) and ``grid_factors`` (default: the bundled MEE factor
sets), and a :class:`ParkCarbonConfig` (usually a YAML file, :func:`load_park_config`).
It produces:

- ``rows``: one row per entity x hour x scope x source with non-zero grams
  (``enterprise_id`` is a tenant, ``"landlord"`` or ``"export"``), where scope is
  ``scope1`` (direct: natural gas), ``scope2-location`` / ``scope2-market`` (grid
  electricity, its losses, heat from the park CHP) or ``scope3`` (shared facilities);
- ``annual``: totals per entity, scope and source;
- ``kpis``: per tenant and for the park: t CO2e, energy in tce, t CO2e per tce (the
  零碳园区 core indicator), t CO2e per 10k CNY of output, clean-electricity share (on-site
  PV + hourly-matched green power over consumption) and the matching scores;
- ``reconciliation``: per method (location / market) and source, the park inventory and
  the sum of tenants + landlord + export, **exactly equal** (integer grams);
- the method manifest, the SHA-256 digests of every input, the Merkle root of ``rows``
  and the head chained to the previous head of the same park (:func:`chain_head`).

The rules per source:

- **grid electricity**: :func:`zone_opt.carbon.scope2_hourly` (PV shared hour by hour,
  contracts matched hour by hour, both methods), meters in kWh rounded to integer Wh;
  distribution losses (``grid.loss_pct`` of the tenants' grid draw, i.e. a gate meter)
  kept by the landlord or grossed up;
- **natural gas** (scope 1): ``round(m3 * g_per_m3)`` per tenant-hour;
- **CHP heat**: the park CHP makes the heat the tenants meter (plus network losses) and
  power in a fixed ratio; its fuel emissions are split between heat and power by
  :func:`zone_opt.carbon.chp_split`, the heat part divided by metered GJ with the losses'
  share to the landlord (largest remainder), the power part exported;
- **shared facilities** (wastewater plant, energy station): each hour's emissions are
  split among products (by energy, exergy or fixed shares), then each product among
  tenants by its allocation key (volume, COD, N, ...); a product nobody uses stays with
  the landlord.

Everything is integer grams with largest-remainder splits, so for every method, source
and hour ``tenants + landlord + export == inventory`` exactly.

The package: :mod:`.config` (the park file), :mod:`.inputs` (meters, tenants, PV as
grids), :mod:`.sources` (one step per emission source), :mod:`.ledger` (integer grams per
entity, hour, scope and source; rows, reconciliation, KPIs) and :mod:`.allocate` (the
run, its manifest and audit seal).
"""

from zone_opt.carbon.park.allocate import ParkCarbonResult, allocate_park
from zone_opt.carbon.park.config import (
    DEFAULT_GAS_G_PER_M3,
    DEFAULT_TCE,
    Contract,
    Facility,
    ParkCarbonConfig,
    Product,
    load_park_config,
    parse_park_config,
)
from zone_opt.carbon.park.ledger import EXPORT, LANDLORD, ROWS_SCHEMA

__all__ = [
    "DEFAULT_GAS_G_PER_M3",
    "DEFAULT_TCE",
    "EXPORT",
    "LANDLORD",
    "ROWS_SCHEMA",
    "Contract",
    "Facility",
    "ParkCarbonConfig",
    "ParkCarbonResult",
    "Product",
    "allocate_park",
    "load_park_config",
    "parse_park_config",
]
