"""The shared-facilities scenario file (``datasets/facilities/example_scenario.yaml``): one
region's parks and candidate sites, and the planning variants to compare.

Demand and capacity are in service units per year of each facility type (test slots,
thousand pallets, ...), coordinates in km, costs in CNY (fixed costs annualised).
"""

from __future__ import annotations

import difflib
from typing import Annotated, Literal

from pydantic import Field, model_validator

from zone_opt.formats.base import (
    MAX_CNY,
    MAX_KM,
    Choice,
    Flag,
    Format,
    Model,
    Quantity,
    Text,
    fail,
    no_entries,
)

__all__ = ["FACILITIES", "MAX_UNITS", "SHARE_METHODS", "FacilitiesFile"]

#: Largest demand or capacity of one type at one park or site, units per year.
MAX_UNITS = 1e9

#: The cost-sharing methods (:class:`zone_opt.optimise.facilities.ShareMethod`).
SHARE_METHODS = ("proportional", "shapley", "least_core", "nucleolus")

Id = Annotated[str, Text(max_length=128)]
TypeName = Annotated[str, Text(max_length=128)]
Coordinate = Annotated[float, Quantity("km", ge=-MAX_KM, le=MAX_KM)]
Units = Annotated[float, Quantity("units/year", ge=0, le=MAX_UNITS)]
Cny = Annotated[float, Quantity("CNY", ge=0, le=MAX_CNY)]
Distance = Annotated[float, Quantity("km", ge=0, le=MAX_KM)]
ShareName = Annotated[Literal["proportional", "shapley", "least_core", "nucleolus"], Choice()]


class ParkEntry(Model):
    """A park: a demand point."""

    id: Id
    """Unique park id."""
    x_km: Coordinate
    """East coordinate."""
    y_km: Coordinate
    """North coordinate."""
    demand: dict[TypeName, Units] = no_entries()
    """Units per year of each facility type the park needs."""
    player: Id | None = None
    """Who pays (default: the park id); parks of one player share a bill."""


class SiteEntry(Model):
    """A candidate site for a shared facility."""

    id: Id
    """Unique site id."""
    x_km: Coordinate
    """East coordinate."""
    y_km: Coordinate
    """North coordinate."""
    fixed_cost_cny: Cny
    """Cost of opening the site (annualised)."""
    capacity: dict[TypeName, Units] = no_entries()
    """Units per year of each facility type the site can serve once opened."""
    operating_cost_cny_per_unit: dict[
        TypeName, Annotated[float, Quantity("CNY/unit", ge=0, le=1e7)]
    ] = no_entries()
    """Cost per unit served, by facility type (default 0)."""


class ScenarioEntry(Model):
    """One planning variant; its keys override the top-level ones."""

    name: Annotated[str, Text(max_length=200)]
    """Scenario name."""
    budget_cny: Cny | None = None
    """Upper limit on the summed fixed cost of opened sites."""
    max_distance_km: Distance | None = None
    """Largest park-to-site distance."""
    single_source: Flag | None = None
    """Each park's demand of a type served by exactly one site."""
    sharing: list[ShareName] | None = None
    """Cost-sharing methods for this scenario's plan."""


class FacilitiesFile(Model):
    """A region's parks, candidate sites and planning variants."""

    name: Annotated[str, Text(max_length=200)] | None = None
    """Region name (default: the file name)."""
    description: Annotated[str, Text(max_length=2000)] | None = None
    """Free text."""
    transport_cost_cny_per_unit_km: Annotated[float, Quantity("CNY/(unit km)", ge=0, le=1e6)]
    """Cost of moving one unit one km (straight-line distance)."""
    parks: Annotated[list[ParkEntry], Field(min_length=1)]
    """The parks (at least one)."""
    sites: Annotated[list[SiteEntry], Field(min_length=1)]
    """The candidate sites (at least one)."""
    sharing: list[ShareName] | None = None
    """Cost-sharing methods for each scenario (default: proportional, shapley)."""
    budget_cny: Cny | None = None
    """Budget of every scenario that does not set its own."""
    max_distance_km: Distance | None = None
    """Distance limit of every scenario that does not set its own."""
    single_source: Flag | None = None
    """Single sourcing in every scenario that does not set its own."""
    scenarios: list[ScenarioEntry] | None = None
    """The variants (default: one, the joint plan)."""

    @model_validator(mode="after")
    def _consistent(self) -> FacilitiesFile:
        for key, ids in (
            ("parks", [p.id for p in self.parks]),
            ("sites", [s.id for s in self.sites]),
        ):
            first: dict[str, int] = {}
            for r, row_id in enumerate(ids):
                if row_id in first:
                    raise fail(
                        f"{row_id!r} is also the id of {key}[{first[row_id]}]", (key, r, "id")
                    )
                first[row_id] = r
        types = {t for p in self.parks for t in p.demand} | {
            t for s in self.sites for t in s.capacity
        }
        for r, site in enumerate(self.sites):
            for t in site.operating_cost_cny_per_unit:
                if t not in types:
                    close = difflib.get_close_matches(t, sorted(types), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise fail(
                        f"no park demands and no site offers the facility type {t!r}{hint}",
                        ("sites", r, "operating_cost_cny_per_unit", t),
                    )
        return self


#: The facilities scenario format.
FACILITIES: Format[FacilitiesFile] = Format(
    name="facilities-scenario",
    model=FacilitiesFile,
    title="facilities scenario",
    label="scenario",
    example="datasets/facilities/example_scenario.yaml",
)
