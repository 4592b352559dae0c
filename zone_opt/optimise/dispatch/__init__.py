"""Park energy dispatch: LP economic dispatch and unit commitment (MILP) over 24 h to a year.

Assets are typed data (:mod:`.assets`), scenarios are YAML + a profile table
(:mod:`.scenario`), the model is assembled as a sparse matrix straight for HiGHS
(:mod:`.builder`), solved once or with a rolling horizon that updates the model in place
(:mod:`.run`), and returned as time series with cost, emission and energy breakdowns
(:mod:`.results`), charts (:mod:`.charts`) and, when infeasible, the conflicting
constraints (:mod:`.diagnose`). :mod:`.pyomo_model` is the same model in pyomo.

    from zone_opt.optimise.dispatch import DispatchOptions, dispatch, load_scenario
    scenario = load_scenario("datasets/sip_park_1/milp.yaml")
    result = dispatch(scenario, "2025-07-14", 168, rolling_h=None,
                      options=DispatchOptions(mip_rel_gap=1e-4))
    result.objective_cny, result.cost_breakdown(), result.timeseries

:func:`dispatch_sweep` solves many scenarios over one horizon, each scenario's chain of
windows one task of an executor (threads here or Ray; :mod:`.sweep`).
"""

from zone_opt.optimise.dispatch.assets import (
    Battery,
    Boiler,
    Carbon,
    Chp,
    Grid,
    Park,
    Renewable,
    ShiftableProcess,
    Slack,
    Tariff,
    UnitState,
)
from zone_opt.optimise.dispatch.inputs import DispatchState, HorizonInputs
from zone_opt.optimise.dispatch.results import BindingConstraint, DispatchResult, WindowReport
from zone_opt.optimise.dispatch.scenario import Scenario, load_scenario, park_from_dict
from zone_opt.optimise.dispatch.solve import DispatchOptions, WindowProgress, dispatch
from zone_opt.optimise.dispatch.sweep import dispatch_sweep

__all__ = [
    "Battery",
    "BindingConstraint",
    "Boiler",
    "Carbon",
    "Chp",
    "DispatchOptions",
    "DispatchResult",
    "DispatchState",
    "Grid",
    "HorizonInputs",
    "Park",
    "Renewable",
    "Scenario",
    "ShiftableProcess",
    "Slack",
    "Tariff",
    "UnitState",
    "WindowProgress",
    "WindowReport",
    "dispatch",
    "dispatch_sweep",
    "load_scenario",
    "park_from_dict",
]
