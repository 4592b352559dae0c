"""The ``dispatch`` job: a park dispatch run on a stored profile table, progress per window.

Params (JSON, stored with the job): ``scenario_yaml``, ``profiles_dataset_id``, ``start``
(ISO), ``hours``, ``rolling_h`` (or None), ``mip_rel_gap``, ``window_time_limit_s``,
``workers``. Each finished window is a checkpoint (progress = windows done / total), so a
cancel or the job's time limit stops the run at the next window, and a cancel also
interrupts the HiGHS solve in progress. The time series is stored as a result dataset.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import DispatchOptions, WindowProgress, dispatch
from zone_opt.optimise.dispatch.scenario import scenario_from_yaml
from zone_opt.service.jobs import JobContext

__all__ = ["profiles_frame", "run_dispatch"]


def profiles_frame(table: pa.Table) -> pd.DataFrame:
    """The profile DataFrame (time index) of an Arrow table with a ``time`` column."""
    if "time" not in table.column_names:
        raise InvalidInputError.single("profiles_ipc.time", None, "required timestamp column")
    frame = table.to_pandas()
    return frame.set_index(pd.DatetimeIndex(frame.pop("time")))


def run_dispatch(ctx: JobContext) -> dict[str, Any]:
    """Run :func:`zone_opt.optimise.dispatch.dispatch`; store the time series."""
    job, params = ctx.job, ctx.job.params
    ctx.checkpoint(0.0, "loading inputs")
    table = ctx.datasets.read(job.tenant, params["profiles_dataset_id"])
    scenario = scenario_from_yaml(params["scenario_yaml"], profiles_frame(table))
    ctx.checkpoint(0.02, "solving")

    def on_window(p: WindowProgress) -> None:
        ctx.checkpoint(
            0.02 + 0.9 * p.done / p.total,
            f"window {p.done} of {p.total}: {p.report.start} {p.report.status}",
        )

    result = dispatch(
        scenario,
        params["start"],
        float(params["hours"]),
        rolling_h=params.get("rolling_h"),
        options=DispatchOptions(
            mip_rel_gap=float(params.get("mip_rel_gap") or 1e-4),
            time_limit_s=params.get("window_time_limit_s"),
            workers=int(params.get("workers") or 1),
            cancel=ctx.cancelled,
            on_window=on_window,
        ),
    )
    ctx.checkpoint(0.95, "storing results")
    ts_id = f"{job.job_id}-timeseries"
    if not result.timeseries.empty:
        frame = result.timeseries.reset_index()
        ctx.datasets.put_result(
            job.tenant, ts_id, "dispatch time series", pa.Table.from_pandas(frame)
        )
    else:
        ts_id = ""
    return {
        "status": str(result.status),
        "objective_cny": result.objective_cny,
        "mip_gap": result.mip_gap,
        "build_s": result.build_s,
        "solve_s": result.solve_s,
        "windows": len(result.windows),
        "timeseries_dataset_id": ts_id,
        "costs_cny": result.cost_breakdown(),
        "emissions_t": result.emissions_breakdown(),
        "infeasibility": result.infeasibility,
    }
