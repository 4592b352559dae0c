"""Dispatch sweeps without Ray: each scenario's rolling-horizon chain is one executor task,
and a sweep equals ``dispatch`` called on each scenario in turn, bit for bit (timings
aside), on threads and on a stand-in remote executor that pickles everything across as
Ray would; an infeasible scenario is a result; the command line's sweep and its flags."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest
from click.testing import CliRunner
from distributed_cases import (
    SIP_PARK,
    PicklingExecutor,
    RecordingExecutor,
    dispatch_fingerprint,
    dispatch_variants,
)

from zone_opt.cli import cli
from zone_opt.distributed import LocalExecutor
from zone_opt.errors import CancelledError, InvalidInputError
from zone_opt.optimise import SolveStatus
from zone_opt.optimise.dispatch import (
    DispatchOptions,
    DispatchResult,
    Scenario,
    dispatch,
    dispatch_sweep,
)
from zone_opt.optimise.dispatch.sweep import SweepHorizon

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

START, HOURS, ROLLING_H = "2025-07-14", 48.0, 24.0


@pytest.fixture(scope="module")
def variants() -> list[Scenario]:
    return dispatch_variants()


@pytest.fixture(scope="module")
def serial(variants: list[Scenario]) -> list[DispatchResult]:
    """``dispatch`` on each scenario in turn: what every sweep must equal."""
    return [dispatch(s, START, HOURS, rolling_h=ROLLING_H) for s in variants]


def test_the_variants_differ_and_one_is_infeasible(serial: list[DispatchResult]) -> None:
    """The test data is a real sweep: distinct optima, and one scenario without a schedule."""
    statuses = [r.status for r in serial]
    assert statuses.count(SolveStatus.INFEASIBLE) == 1
    assert all(s is SolveStatus.OPTIMAL for s in statuses if s is not SolveStatus.INFEASIBLE)
    solved = [r.objective_cny for r in serial if r.status.has_solution]
    assert len(set(solved)) == len(solved)
    assert all(len(r.windows) == 2 for r in serial if r.status.has_solution)


@pytest.mark.parametrize(
    "make", [lambda: LocalExecutor(1), lambda: LocalExecutor(2), lambda: PicklingExecutor(2)]
)
def test_sweep_equals_dispatch_in_turn(
    variants: list[Scenario],
    serial: list[DispatchResult],
    make: Callable[[], LocalExecutor],
) -> None:
    swept = dispatch_sweep(variants, START, HOURS, rolling_h=ROLLING_H, executor=make())
    assert [r.park.name for r in swept] == [r.park.name for r in serial]
    assert [dispatch_fingerprint(r) for r in swept] == [dispatch_fingerprint(r) for r in serial]
    infeasible = next(r for r in swept if r.status is SolveStatus.INFEASIBLE)
    assert any(c.constraint == "unserved.electricity" for c in infeasible.conflicts)


def test_each_chain_is_one_task_without_callbacks(variants: list[Scenario]) -> None:
    """One round, one item per scenario (the whole chain); the horizon and options are
    shared, the callbacks and cancel event stay on the driver."""
    seen: list[object] = []
    options = DispatchOptions(workers=2, cancel=threading.Event(), on_window=seen.append)
    ex = RecordingExecutor(2)
    swept = dispatch_sweep(
        variants[:2], START, HOURS, rolling_h=ROLLING_H, options=options, executor=ex
    )
    ((shared, items),) = ex.rounds
    assert items == variants[:2]
    assert isinstance(shared, SweepHorizon)
    assert (shared.hours, shared.rolling_h) == (HOURS, ROLLING_H)
    assert shared.options.cancel is None
    assert shared.options.on_window is None
    assert shared.options.workers == 2
    assert seen == []
    # each task is dispatch with the same options (speculative windows inside the chain)
    plain = DispatchOptions(workers=2)
    alone = [dispatch(s, START, HOURS, rolling_h=ROLLING_H, options=plain) for s in variants[:2]]
    assert [dispatch_fingerprint(r) for r in swept] == [dispatch_fingerprint(r) for r in alone]


def test_a_local_sweep_keeps_the_cancel_event(variants: list[Scenario]) -> None:
    """On threads the chains see the driver's cancel event (set before they start: the
    first solve refuses to run, as ``dispatch`` does)."""
    cancel = threading.Event()
    cancel.set()
    options = DispatchOptions(cancel=cancel)
    with pytest.raises(CancelledError, match="cancelled before it started"):
        dispatch_sweep(variants[:2], START, HOURS, options=options, executor=LocalExecutor(2))


def test_bad_input_is_refused_before_any_task(variants: list[Scenario]) -> None:
    ex = RecordingExecutor(2)
    with pytest.raises(InvalidInputError, match=r"hours \(row 1\): profiles end at"):
        dispatch_sweep([variants[0], variants[1]], "2025-12-30", 72, executor=ex)
    with pytest.raises(InvalidInputError, match="scenarios: must name at least one"):
        dispatch_sweep([], START, HOURS, executor=ex)
    with pytest.raises(InvalidInputError, match=r"scenarios \(row 1\): must be a Scenario"):
        dispatch_sweep([variants[0], "lp.yaml"], START, HOURS, executor=ex)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="scenarios: must be a list"):
        dispatch_sweep(variants[0], START, HOURS, executor=ex)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="rolling_h"):
        dispatch_sweep(variants, START, HOURS, rolling_h=0.0, executor=ex)
    assert ex.rounds == []


def _dispatch_cli(tmp_path: Path, *extra: str, files: Sequence[str] = ("lp", "milp")) -> object:
    args = ["dispatch", *(str(SIP_PARK / f"{f}.yaml") for f in files)]
    args += ["--start", START, "--hours", "48", "--rolling", "24", "--no-report", "--no-progress"]
    return CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "out"), *extra])


def test_cli_sweep_writes_one_directory_per_scenario(
    tmp_path: Path, variants: list[Scenario], serial: list[DispatchResult]
) -> None:
    result = _dispatch_cli(tmp_path, "--chains", "2")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = tmp_path / "out"
    listing = json.loads((out / "sweep.json").read_text())
    assert [e["scenario"] for e in listing] == ["lp", "milp"]
    for entry, ref in zip(listing, serial[:2], strict=True):
        summary = json.loads((out / entry["dir"] / "summary.json").read_text())
        assert summary["objective_cny"] == entry["objective_cny"] == ref.objective_cny
        assert summary["windows"] == 2
        assert (out / entry["dir"] / "timeseries.parquet").is_file()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--ray-address", "local"], "--ray-address needs --executor ray"),
        (["--executor", "ray", "--ray-address", " "], "--ray-address must not be empty"),
        (["--executor", "ray", "--chains", "2"], "--chains is for --executor local"),
        (["--executor", "dask"], "'dask' is not one of 'local', 'ray'"),
        (["--chains", "0"], "--chains"),
    ],
)
def test_cli_bad_executor_flags_are_usage_errors(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    result = _dispatch_cli(tmp_path, *flags)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert message in result.output  # type: ignore[attr-defined]
    assert not (tmp_path / "out").exists()


def test_cli_two_files_of_one_name_are_a_usage_error(tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "lp.yaml"
    copy.parent.mkdir()
    copy.write_text(
        (SIP_PARK / "lp.yaml")
        .read_text()
        .replace("profiles_8760.csv", str(SIP_PARK / "profiles_8760.csv"))
    )
    result = CliRunner().invoke(
        cli,
        [
            "dispatch",
            str(SIP_PARK / "lp.yaml"),
            str(copy),
            "--start",
            START,
            "--hours",
            "24",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "two scenario files named 'lp'" in result.output


def test_cli_help_describes_the_sweep() -> None:
    result = CliRunner().invoke(cli, ["dispatch", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "SCENARIO..." in text
    assert "--executor [local|ray]" in text
    assert "--ray-address ADDRESS" in text
    assert "one task of --executor" in text
