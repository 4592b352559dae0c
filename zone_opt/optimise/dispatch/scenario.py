"""Scenarios: a :class:`Park` plus its profile table, read from YAML + CSV/Parquet.

A scenario file names the profile table (relative to the YAML), the model resolution
(60 or 15 minutes; hourly profiles are repeated to 15 minutes) and every asset; see
``datasets/sip_park_1/lp.yaml``. :meth:`Scenario.horizon` cuts the arrays of one horizon
(start, hours) and checks that the profiles cover it. Unknown keys are errors.
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
import yaml
from numpy.typing import ArrayLike

from zone_opt.errors import InvalidInputError, NotFoundError
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


# ---- YAML -------------------------------------------------------------------------------

_NESTED: dict[str, Any] = {
    "renewables": Renewable,
    "batteries": Battery,
    "chps": Chp,
    "boilers": Boiler,
    "processes": ShiftableProcess,
}


def _make(cls: Any, data: Any, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidInputError.single(path, None, "expected a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInputError.single(f"{path}.{unknown[0]}", None, "unknown key")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        sub = f"{path}.{key}"
        if key == "initial":
            kwargs[key] = _make(UnitState, value, sub)
        elif key == "tariff":
            kwargs[key] = _make(Tariff, value, sub)
        elif key == "periods":
            kwargs[key] = tuple((int(a), int(b), float(c)) for a, b, c in value)
        elif key in ("critical_peak_months",):
            kwargs[key] = tuple(int(v) for v in value)
        elif key == "critical_peak_hours":
            kwargs[key] = (int(value[0]), int(value[1]))
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InvalidInputError.single(path, None, str(exc)) from exc


def park_from_dict(data: Mapping[str, Any], name: str = "park") -> Park:
    """A :class:`Park` from a scenario file's mapping (keys as the dataclass fields)."""
    kwargs: dict[str, Any] = {"name": str(data.get("name", name))}
    for key in ("load_column", "heat_load_column"):
        kwargs[key] = data.get(key)
    if kwargs["load_column"] is None:
        raise InvalidInputError.single("load_column", None, "required")
    for key in ("grid", "carbon"):
        if key not in data:
            raise InvalidInputError.single(key, None, "required")
    kwargs["grid"] = _make(Grid, data["grid"], "grid")
    kwargs["carbon"] = _make(Carbon, data["carbon"], "carbon")
    if "slack" in data:
        kwargs["slack"] = _make(Slack, data["slack"], "slack")
    for key, cls in _NESTED.items():
        items = data.get(key) or []
        kwargs[key] = tuple(_make(cls, item, f"{key}[{i}]") for i, item in enumerate(items))
    return Park(**kwargs)


_TOP = {
    "name",
    "profiles",
    "resolution_min",
    "timezone",
    "description",
    "load_column",
    "heat_load_column",
    "grid",
    "carbon",
    "slack",
    *_NESTED,
}


def _parse(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError.single("scenario", None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInputError.single("scenario", None, "expected a mapping")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise InvalidInputError.single(unknown[0], None, "unknown key")
    return data


def scenario_from_yaml(text: str, profiles: pd.DataFrame, *, name: str = "park") -> Scenario:
    """A scenario from YAML text and an already-read profile table (its ``profiles`` key is
    not used)."""
    data = _parse(text)
    park = park_from_dict(data, name=str(data.get("name", name)))
    return Scenario.create(
        park,
        profiles,
        resolution_min=int(data.get("resolution_min", 60)),
        name=str(data.get("name", name)),
    )


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
    """Read a scenario YAML and its profile table (CSV with a time column first, or Parquet)."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"no such scenario file {p}")
    text = p.read_text(encoding="utf-8")
    data = _parse(text)
    if "profiles" not in data:
        raise InvalidInputError.single("profiles", None, "required")
    prof = p.parent / str(data["profiles"])
    if not prof.is_file():
        raise NotFoundError(f"profiles: no such file {prof}")
    return scenario_from_yaml(text, read_profiles(prof), name=p.stem)


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML/JSON-able values."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    return obj
