"""Scenarios: a :class:`Park` plus its profile table, read from YAML + CSV/Parquet.

A scenario file names the profile table (relative to the YAML), the model resolution
(60 or 15 minutes; hourly profiles are repeated to 15 minutes) and every asset; see
``datasets/sip_park_1/lp.yaml`` and its reference ``docs/formats/dispatch-scenario.md``.
The file is checked by :data:`zone_opt.formats.dispatch.DISPATCH` (unknown keys, types,
physical bounds: each problem names the file, line and key path) before the park is
built. :meth:`Scenario.horizon` cuts the arrays of one horizon (start, hours) and checks
that the profiles cover it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import BaseModel

from zone_opt.errors import InvalidInputError, NotFoundError
from zone_opt.formats.dispatch import DISPATCH, ChpFile, ScenarioFile, TariffFile
from zone_opt.formats.document import Document
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
from zone_opt.optimise.dispatch.inputs import HorizonInputs
from zone_opt.optimise.dispatch.validate import validate_horizon, validate_park

__all__ = [
    "Scenario",
    "load_scenario",
    "park_from_dict",
    "park_from_file",
    "read_profiles",
    "scenario_from_yaml",
    "tou_price",
]


@dataclass(frozen=True)
class Scenario:
    """A park and its profiles (a DataFrame on a regular, naive local-time index)."""

    park: Park
    profiles: pd.DataFrame
    resolution_min: int = 60
    name: str = ""

    @classmethod
    def from_arrays(
        cls,
        park: Park,
        start: dt.datetime | str,
        profiles: Mapping[str, ArrayLike],
        *,
        resolution_min: int = 60,
        name: str = "",
    ) -> Scenario:
        """A scenario from equal-length arrays per profile column, at ``resolution_min``.

        Raises InvalidInputError naming ``profiles.<column>`` for a wrong length.
        """
        lengths = {k: int(np.size(v)) for k, v in profiles.items()}
        n = max(lengths.values(), default=0)
        bad = [
            (f"profiles.{k}", None, f"length {m}, expected {n}")
            for k, m in lengths.items()
            if m != n
        ]
        if bad:
            raise InvalidInputError(None, bad)
        index = pd.date_range(pd.Timestamp(start), periods=n, freq=f"{resolution_min}min")
        frame = pd.DataFrame(
            {k: np.asarray(v, dtype=np.float64).ravel() for k, v in profiles.items()}, index=index
        )
        return cls.create(park, frame, resolution_min=resolution_min, name=name)

    @classmethod
    def create(
        cls, park: Park, profiles: pd.DataFrame, *, resolution_min: int = 60, name: str = ""
    ) -> Scenario:
        """Validate the park against the profiles and resample hourly profiles to 15 min."""
        if resolution_min not in (15, 60):
            raise InvalidInputError.single("resolution_min", None, "must be 60 or 15")
        if not isinstance(profiles.index, pd.DatetimeIndex) or len(profiles) < 1:
            raise InvalidInputError.single("profiles", None, "needs a datetime index")
        step = (profiles.index[1] - profiles.index[0]) if len(profiles) > 1 else pd.Timedelta(0)
        if len(profiles) > 1:
            if (np.diff(profiles.index.to_numpy()) != step.to_timedelta64()).any():
                raise InvalidInputError.single("profiles.index", None, "steps are not regular")
            minutes = step.total_seconds() / 60
            if minutes == 60 and resolution_min == 15:
                profiles = profiles.loc[profiles.index.repeat(4)]
                profiles.index = pd.date_range(
                    profiles.index[0], periods=len(profiles), freq="15min"
                )
            elif minutes != resolution_min:
                raise InvalidInputError.single(
                    "profiles.index", None, f"{minutes:g}-min steps, model needs {resolution_min}"
                )
        validate_park(park, profiles)
        return cls(park=park, profiles=profiles, resolution_min=resolution_min, name=name)

    @property
    def dt_h(self) -> float:
        return self.resolution_min / 60.0

    def horizon(
        self, start: dt.datetime | str, hours: float, *, carbon_cap_t: float | None = None
    ) -> HorizonInputs:
        """The arrays of ``hours`` from ``start``. O(steps)."""
        t0 = pd.Timestamp(start)
        n = round(hours / self.dt_h)
        if n < 1:
            raise InvalidInputError.single("hours", None, "must cover at least one step")
        pos = self.profiles.index.searchsorted(t0)
        if pos >= len(self.profiles) or self.profiles.index[pos] != t0:
            raise InvalidInputError.single(
                "start",
                None,
                f"{t0} is not a step of the profiles "
                f"({self.profiles.index[0]} .. {self.profiles.index[-1]})",
            )
        if pos + n > len(self.profiles):
            raise InvalidInputError.single(
                "hours",
                None,
                f"profiles end at {self.profiles.index[-1]}, "
                f"{hours:g} h from {t0} needs {n} steps, {len(self.profiles) - pos} left",
            )
        return self._cut(pos, n, carbon_cap_t)

    @cached_property
    def _arrays(self) -> dict[str, Any]:
        """The profile table as numpy arrays, computed once: every column, the day number
        of each step, the tariff price and each process's window total per day."""
        frame, park = self.profiles, self.park
        cols = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns}
        day = (frame.index.normalize() - frame.index[0].normalize()) // pd.Timedelta(days=1)
        day_np = np.asarray(day, dtype=np.int64)
        tariff = park.grid.tariff
        price = (
            cols[tariff.price_column]
            if tariff.price_column is not None
            else tou_price(tariff, pd.DatetimeIndex(frame.index))
        )
        totals = [np.bincount(day_np, weights=cols[p.window_column]) for p in park.processes]
        return {
            "cols": cols,
            "day": day_np,
            "time": frame.index.to_numpy(),
            "price": price,
            "window_day_total": totals,
        }

    def _cut(self, pos: int, n: int, carbon_cap_t: float | None) -> HorizonInputs:
        park, arr = self.park, self._arrays
        sl = slice(pos, pos + n)
        cols = arr["cols"]

        def col(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
            return cols[name][sl]  # type: ignore[no-any-return]

        day = arr["day"][sl]
        period = day - day[0]
        n_periods = int(period[-1]) + 1
        window = np.zeros((len(park.processes), n))
        share = np.ones((len(park.processes), n_periods))
        for k, p in enumerate(park.processes):
            window[k] = col(p.window_column)
            # Share of each day's window inside the horizon (1 for whole days).
            inside = np.bincount(period, weights=window[k], minlength=n_periods)
            total = arr["window_day_total"][k][day[0] : day[0] + n_periods]
            share[k] = np.divide(inside, total, out=np.ones(n_periods), where=total > 0)
        inputs = HorizonInputs(
            time=arr["time"][sl],
            dt_h=self.dt_h,
            cf=np.array([col(r.cf_column) for r in park.renewables]).reshape(
                len(park.renewables), n
            ),
            load_mw=col(park.load_column),
            heat_load_mwth=(col(park.heat_load_column) if park.heat_load_column else np.zeros(n)),
            price_cny_per_mwh=arr["price"][sl],
            export_price_cny_per_mwh=np.full(n, park.grid.export_price_cny_per_mwh),
            intensity_t_per_mwh=col(park.carbon.intensity_column),
            window=window,
            period=period,
            period_share=share,
            carbon_cap_t=carbon_cap_t,
        )
        validate_horizon(park, inputs)
        return inputs


def tou_price(tariff: Tariff, index: pd.DatetimeIndex) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Time-of-use price per step (CNY/MWh) from the tariff's calendar. O(steps x periods)."""
    hour = index.hour.to_numpy()
    price = np.full(len(index), np.nan)
    for h0, h1, value in tariff.periods:
        price[(hour >= h0) & (hour < h1)] = value
    if tariff.critical_peak_hours is not None:
        h0, h1 = tariff.critical_peak_hours
        cp = (
            np.isin(index.month.to_numpy(), tariff.critical_peak_months)
            & (hour >= h0)
            & (hour < h1)
        )
        price[cp] *= tariff.critical_peak_factor
    return price


# ---- the scenario file ------------------------------------------------------------------


def _given(model: BaseModel) -> dict[str, Any]:
    """The keys the file set (null: not set), so the dataclasses' defaults apply."""
    return {k: v for k in sorted(model.model_fields_set) if (v := getattr(model, k)) is not None}


def _tariff(file: TariffFile) -> Tariff:
    kwargs = _given(file)
    if "periods" in kwargs:
        kwargs["periods"] = tuple((int(a), int(b), float(c)) for a, b, c in file.periods)
    if "critical_peak_months" in kwargs:
        kwargs["critical_peak_months"] = tuple(int(m) for m in file.critical_peak_months)
    if file.critical_peak_hours is not None:
        h0, h1 = file.critical_peak_hours
        kwargs["critical_peak_hours"] = (int(h0), int(h1))
    return Tariff(**kwargs)


def _chp(file: ChpFile) -> Chp:
    kwargs = _given(file)
    if file.initial is not None:
        kwargs["initial"] = UnitState(**_given(file.initial))
    return Chp(**kwargs)


def park_from_file(file: ScenarioFile, name: str = "park") -> Park:
    """The :class:`Park` of a validated scenario file (``name`` unless the file names it)."""
    grid = _given(file.grid)
    if file.grid.tariff is not None:
        grid["tariff"] = _tariff(file.grid.tariff)
    return Park(
        name=file.name if file.name is not None else name,
        load_column=file.load_column,
        heat_load_column=file.heat_load_column,
        grid=Grid(**grid),
        carbon=Carbon(**_given(file.carbon)),
        renewables=tuple(Renewable(**_given(r)) for r in file.renewables or ()),
        batteries=tuple(Battery(**_given(b)) for b in file.batteries or ()),
        chps=tuple(_chp(c) for c in file.chps or ()),
        boilers=tuple(Boiler(**_given(b)) for b in file.boilers or ()),
        processes=tuple(ShiftableProcess(**_given(p)) for p in file.processes or ()),
        slack=Slack(**_given(file.slack)) if file.slack is not None else Slack(),
    )


def park_from_dict(data: Mapping[str, Any], name: str = "park") -> Park:
    """A :class:`Park` from a scenario file's mapping (keys as the dataclass fields),
    checked against the scenario format (:data:`zone_opt.formats.dispatch.DISPATCH`)."""
    return park_from_file(DISPATCH.from_data(dict(data)), name)


def _scenario(file: ScenarioFile, doc: Document, profiles: pd.DataFrame, name: str) -> Scenario:
    """The scenario of a validated file; the park's problems against the profiles name the
    file's line where they are about one of its keys."""
    try:
        return Scenario.create(
            park_from_file(file, name),
            profiles,
            resolution_min=file.resolution_min,
            name=file.name if file.name is not None else name,
        )
    except InvalidInputError as exc:
        raise DISPATCH.locate(exc, doc) from None


def scenario_from_yaml(text: str, profiles: pd.DataFrame, *, name: str = "park") -> Scenario:
    """A scenario from YAML text and an already-read profile table (its ``profiles`` key is
    not used). Problems name the key path, with the line at the end of the reason."""
    file, doc = DISPATCH.parse(text)
    return _scenario(file, doc, profiles, name)


def read_profiles(path: Path) -> pd.DataFrame:
    """A profile table from CSV (time in the first column) or Parquet."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        if not isinstance(frame.index, pd.DatetimeIndex):
            frame = frame.set_index(frame.columns[0])
    else:
        frame = pd.read_csv(path, index_col=0, parse_dates=[0])
    frame.index = pd.DatetimeIndex(frame.index)
    return frame


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML and its profile table (CSV with a time column first, or Parquet).

    Raises:
        NotFoundError: no scenario file, or no profile table where it says.
        InvalidInputError: naming the file, the line, the key path and the rule of every
            problem (the format: ``docs/formats/dispatch-scenario.md``).
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no such scenario file {p}")
    file, doc = DISPATCH.load(p)
    if file.profiles is None:
        raise DISPATCH.error(
            doc, doc.source, [(("profiles",), None, "is required: the profile table's path")]
        )
    prof = p.parent / file.profiles
    if not prof.is_file():
        raise NotFoundError(f"{p}:{doc.line(('profiles',))}: profiles: no such file {prof}")
    return _scenario(file, doc, read_profiles(prof), p.stem)


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML/JSON-able values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    return obj
