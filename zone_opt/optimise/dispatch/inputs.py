"""The numeric inputs of one horizon (a run or a rolling window), as numpy arrays per step.

:class:`HorizonInputs` is what the matrix builder and the pyomo reference read: profiles
already resolved to model units (MW, CNY/MWh, tCO2/MWh) at the model resolution, and the
calendar-day grouping the shiftable processes need. :class:`DispatchState` is the state
carried into a horizon (SoC, unit status and history, last output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from zone_opt.optimise.dispatch.assets import Park, UnitState

__all__ = ["DispatchState", "HorizonInputs"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class HorizonInputs:
    """One horizon's per-step data. Every array has length ``n_steps`` unless stated.

    ``cf``: (renewables, steps) capacity factors; ``window``: (processes, steps) allowed
    power share in [0, 1]; ``period``: per step, the index (0..n_periods-1) of its calendar
    day within the horizon; ``period_share``: per period, the share of that day's process
    window the horizon covers (1 for a whole day), per process: (processes, n_periods).
    """

    time: NDArray[np.datetime64]
    dt_h: float
    cf: F64
    load_mw: F64
    heat_load_mwth: F64
    price_cny_per_mwh: F64
    export_price_cny_per_mwh: F64
    intensity_t_per_mwh: F64
    window: F64
    period: NDArray[np.int64]
    period_share: F64
    carbon_cap_t: float | None = None

    @property
    def n_steps(self) -> int:
        return int(self.load_mw.shape[0])

    @property
    def n_periods(self) -> int:
        return int(self.period.max()) + 1 if self.period.size else 0

    def structure_key(self) -> tuple[int, bytes, bool]:
        """What fixes the matrix's shape: steps, the day grouping, whether a cap row exists."""
        return (self.n_steps, self.period.tobytes(), self.carbon_cap_t is not None)


@dataclass(frozen=True)
class DispatchState:
    """State carried into a horizon: SoC per battery (MWh) and per CHP its :class:`UnitState`."""

    soc_mwh: tuple[float, ...]
    units: tuple[UnitState, ...]
    cyclic: tuple[bool, ...] = field(default=())
    """Per battery, whether this horizon is cyclic (one-shot runs only)."""

    @classmethod
    def initial(cls, park: Park, *, one_shot: bool) -> DispatchState:
        """The park's initial state; ``one_shot`` keeps the batteries' cyclic flags."""
        return cls(
            soc_mwh=tuple(b.initial_soc_mwh for b in park.batteries),
            units=tuple(c.initial for c in park.chps),
            cyclic=tuple(b.cyclic and one_shot for b in park.batteries),
        )

    def is_cyclic(self, battery: int) -> bool:
        return bool(self.cyclic and self.cyclic[battery])
