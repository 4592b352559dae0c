"""Run the engines' independent work on threads here or on a Ray cluster, with identical
results (:mod:`zone_opt.distributed.executor`). Ray is the optional extra
``zone-opt[ray]``; nothing here imports it until a Ray executor is made.

What runs through an executor today: the coalition values of cost-sharing games
(:class:`~zone_opt.optimise.facilities.coalitions.CoalitionCosts`, one round per coalition
size; exact games up to
:func:`~zone_opt.optimise.facilities.coalitions.exact_player_cap` players), facility
scenario sweeps (:func:`~zone_opt.optimise.facilities.scenario.run_scenarios`), dispatch
scenario sweeps (:func:`~zone_opt.optimise.dispatch.sweep.dispatch_sweep`, one task per
rolling-horizon chain), matching (:func:`zone_opt.matching.match` with ``executor=``;
:mod:`zone_opt.matching.distributed`) and each party's side of the streaming private set
intersection (:class:`~zone_opt.join.StreamingJoinSender` and
:class:`~zone_opt.join.StreamingJoinReceiver` with ``executor=``;
:mod:`zone_opt.join.sharded`).
"""

from zone_opt.distributed.executor import (
    BACKENDS,
    Backend,
    Executor,
    LocalExecutor,
    check_executor,
    executor,
    share,
)
from zone_opt.distributed.ray_backend import RayExecutor, RayUnavailableError
from zone_opt.distributed.shared import Shared

__all__ = [
    "BACKENDS",
    "Backend",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "RayUnavailableError",
    "Shared",
    "check_executor",
    "executor",
    "share",
]
