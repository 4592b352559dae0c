"""DispatchService over a real server, checked against the library called directly."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from zone_opt.api.v1 import dispatch_pb2
from zone_opt.client import Client, DispatchRunOptions
from zone_opt.errors import InvalidInputError
from zone_opt.optimise.dispatch import dispatch, load_scenario

DATA = Path(__file__).resolve().parents[2] / "datasets" / "sip_park_1"


def _profiles() -> pa.Table:
    frame = load_scenario(DATA / "lp.yaml").profiles
    return pa.Table.from_pandas(frame.rename_axis("time").reset_index(), preserve_index=False)


def test_dispatch_operation_equals_the_library(alice: Client) -> None:
    yaml_text = (DATA / "milp.yaml").read_text()
    op = alice.submit_dispatch(
        yaml_text,
        _profiles(),
        datetime(2025, 7, 14),
        48,
        options=DispatchRunOptions(rolling_h=24, mip_rel_gap=1e-6),
    )
    seen = list(alice.watch(op, 120))
    done = seen[-1]
    assert done.state == "SUCCEEDED", done.error_message
    assert any("window 1 of 2" in o.stage for o in seen[:-1]) or done.progress == 1.0
    expected = dispatch(load_scenario(DATA / "milp.yaml"), "2025-07-14", 48, rolling_h=24)
    result = done.result_as(dispatch_pb2.DispatchResult)
    assert result.objective_cny == pytest.approx(expected.objective_cny, rel=1e-6)
    assert result.windows == 2
    assert result.status == dispatch_pb2.DISPATCH_STATUS_OPTIMAL
    table = alice.download(result.timeseries_dataset_id)
    assert table.num_rows == 48
    assert sum(result.costs_cny.values()) == pytest.approx(result.objective_cny, rel=1e-8)


def test_dispatch_rejects_bad_input(alice: Client) -> None:
    yaml_text = (DATA / "lp.yaml").read_text()
    bad = yaml_text.replace("capacity_mw: 120", "capacity_mw: -120")
    with pytest.raises(InvalidInputError) as err:
        alice.submit_dispatch(bad, _profiles(), datetime(2025, 7, 14), 24)
    assert any(v.field == "renewables[0].capacity_mw" for v in err.value.violations)
    with pytest.raises(InvalidInputError) as err:
        alice.submit_dispatch(yaml_text, _profiles(), datetime(2025, 12, 31), 48)
    assert any(v.field == "hours" for v in err.value.violations)


def test_old_dispatch_keywords_still_work_and_warn(alice: Client) -> None:
    yaml_text = (DATA / "lp.yaml").read_text()
    with pytest.warns(DeprecationWarning, match=r"submit_dispatch\(\.\.\., rolling_h=\)"):
        op = alice.submit_dispatch(
            yaml_text, _profiles(), datetime(2025, 7, 14), 24, rolling_h=24, workers=0
        )
    assert alice.wait(op, 120).state == "SUCCEEDED"
    with (
        pytest.warns(DeprecationWarning, match="workers="),
        pytest.raises(InvalidInputError) as err,
    ):
        alice.submit_dispatch(yaml_text, _profiles(), datetime(2025, 7, 14), 24, workers=3)
    assert err.value.violations[0].field == "workers"
    with pytest.raises(InvalidInputError) as err:
        DispatchRunOptions(mip_rel_gap=math.nan)
    assert err.value.violations[0].field == "mip_rel_gap"
