"""Clear-sky photovoltaic output for a site's coordinates, hour by hour.

Solar geometry from the declination and equation of time of Spencer (1971), hour angle
from local solar time (longitude against the UTC+8 meridian of Asia/Shanghai), direct
irradiance by the Meinel air-mass model ``1353 * 0.7 ** (AM ** 0.678)`` plus 10 % diffuse,
on a horizontal plane, times a system performance ratio. The result is kW per kWp
installed for each hour, averaged over the hour at its midpoint.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["PERFORMANCE_RATIO", "pv_profile_kw_per_kwp"]

#: Share of plane irradiance reaching the AC meter (inverter, temperature, soiling).
PERFORMANCE_RATIO = 0.80


def pv_profile_kw_per_kwp(
    lat_deg: npt.ArrayLike,
    lon_deg: npt.ArrayLike,
    hour_start_utc_s: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Clear-sky PV output, kW per kWp, shape ``(sites, hours)``.

    ``hour_start_utc_s`` are Unix seconds of each hour's start. O(sites * hours).
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))[:, None]
    lon = np.asarray(lon_deg, dtype=np.float64)[:, None]
    mid = hour_start_utc_s.astype(np.float64) + 1800.0
    day_of_year = (mid / 86400.0) % 365.2422  # days since 1 Jan, tropical-year aligned
    gamma = 2.0 * np.pi * day_of_year / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
    )
    eot_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    utc_hours = (mid % 86400.0) / 3600.0
    solar_time = utc_hours[None, :] + lon / 15.0 + eot_min[None, :] / 60.0
    hour_angle = np.radians(15.0 * (solar_time - 12.0))
    cos_zenith = np.sin(lat) * np.sin(decl)[None, :] + np.cos(lat) * np.cos(decl)[None, :] * np.cos(
        hour_angle
    )
    up = cos_zenith > 0.01
    air_mass = np.where(up, 1.0 / np.maximum(cos_zenith, 0.01), np.inf)
    direct = 1353.0 * np.power(0.7, np.power(air_mass, 0.678))
    global_w_m2 = np.where(up, 1.1 * direct * cos_zenith, 0.0)
    out: npt.NDArray[np.float64] = global_w_m2 / 1000.0 * PERFORMANCE_RATIO
    return out
