"""The executor interface and its local backend, without Ray: order, errors, the factory,
the missing-extra error, and that coalition values and scenario sweeps do not depend on
the executor (a stand-in "remote" executor pickles everything across, as Ray would)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from distributed_cases import (
    PicklingExecutor,
    dispatch_variants,
    game,
    same_results,
    sampled_shapley,
    sweep,
    values_bytes,
)

from zone_opt.cli import cli
from zone_opt.datasets import preset_region
from zone_opt.distributed import (
    Executor,
    LocalExecutor,
    RayUnavailableError,
    Shared,
    check_executor,
    executor,
    share,
)
from zone_opt.errors import FailedPreconditionError, InvalidInputError
from zone_opt.join import StreamingJoinSender
from zone_opt.matching import match
from zone_opt.optimise import SolveOptions
from zone_opt.optimise.dispatch.sweep import dispatch_sweep
from zone_opt.optimise.facilities.coalitions import CoalitionCosts
from zone_opt.optimise.facilities.scenario import run_scenarios
from zone_opt.optimise.facilities.sharing import ShareOptions

SCENARIO = Path(__file__).resolve().parents[1] / "datasets" / "facilities" / "example_scenario.yaml"


def _slow_square(shared: float, x: int) -> float:
    threading.Event().wait(0.002 * ((7 * x) % 5))  # finish out of order
    return shared * x * x


def _fail_on_three(_shared: None, x: int) -> int:
    if x == 3:
        raise InvalidInputError.single("x", x, "three")
    return x


def test_local_results_in_submission_order() -> None:
    items = list(range(20))
    expected = [0.5 * x * x for x in items]
    for workers in (1, 2, 4):
        assert LocalExecutor(workers).map(_slow_square, 0.5, items) == expected
    assert LocalExecutor(2).map(_slow_square, 1.0, []) == []


def test_local_executor_is_an_executor_and_the_default() -> None:
    ex = executor()
    assert isinstance(ex, Executor)
    assert isinstance(ex, LocalExecutor)
    assert (ex.name, ex.workers, ex.remote) == ("local", 2, False)
    assert executor("local", workers=3).workers == 3
    ex.close()


def test_a_task_error_is_raised_with_its_type() -> None:
    with pytest.raises(InvalidInputError, match="three"):
        LocalExecutor(2).map(_fail_on_three, None, list(range(6)))


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_workers_must_be_a_positive_integer(workers: object) -> None:
    with pytest.raises(InvalidInputError, match="workers"):
        LocalExecutor(workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [LocalExecutor, "ray", 2, object()])
def test_every_entry_point_refuses_what_is_not_an_executor(bad: object) -> None:
    problem, players = game(3)
    sample = preset_region("sample")
    wrong: Any = bad  # what a caller without a type checker may pass
    calls: dict[str, Callable[[], object]] = {
        "check_executor": lambda: check_executor(wrong),
        "CoalitionCosts": lambda: CoalitionCosts(problem, players, executor=wrong),
        "run_scenarios": lambda: run_scenarios(sweep(3), executor=wrong),
        "dispatch_sweep": lambda: dispatch_sweep(
            dispatch_variants()[:1], "2025-07-14", 24, executor=wrong
        ),
        "match": lambda: match(
            sample.spaces, sample.enterprises, parks=sample.parks, executor=wrong
        ),
        "StreamingJoinSender": lambda: StreamingJoinSender(
            pa.table({"id": ["a", "b"]}),
            "id",
            key_kind="text",
            executor=wrong,
        ),
    }
    for name, call in calls.items():
        with pytest.raises(
            InvalidInputError, match=re.escape("must be a zone_opt.distributed.Executor")
        ) as err:
            call()
        assert err.value.violations[0].field == "executor", name


def test_factory_refuses_unknown_backends_and_stray_addresses() -> None:
    with pytest.raises(InvalidInputError, match="unknown backend 'dask'"):
        executor("dask")
    with pytest.raises(InvalidInputError, match="needs the ray backend"):
        executor("local", address="ray://head:10001")


def test_ray_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RayUnavailableError, match=r"pip install 'zone-opt\[ray\]'") as caught:
        executor("ray")
    assert isinstance(caught.value, FailedPreconditionError)
    assert isinstance(caught.value, ImportError)


def test_importing_zone_opt_does_not_import_ray() -> None:
    code = "import sys, zone_opt.distributed, zone_opt.optimise.facilities.scenario; "
    code += "sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_coalition_values_do_not_depend_on_the_executor() -> None:
    problem, players = game(11)
    reference = values_bytes(CoalitionCosts(problem, players, executor=LocalExecutor(1)))
    for ex in (LocalExecutor(2), PicklingExecutor(2)):
        assert values_bytes(CoalitionCosts(problem, players, executor=ex)) == reference


def test_sampled_shapley_does_not_depend_on_the_executor() -> None:
    problem, players = game(12)
    settings = ShareOptions(exact_limit=3, samples=16, seed=7)
    shares = sampled_shapley(problem, players, settings, (LocalExecutor(1), PicklingExecutor(2)))
    assert [s.share_cny for s in shares[0].shares] == [s.share_cny for s in shares[1].shares]
    assert shares[0].coalitions_solved == shares[1].coalitions_solved


def test_sweep_as_tasks_equals_the_serial_run() -> None:
    scenarios = sweep(13)
    stages: list[tuple[str, str]] = []
    serial = run_scenarios(scenarios, workers=1)
    tasks = run_scenarios(
        scenarios,
        executor=PicklingExecutor(2),
        on_stage=lambda sc, st: stages.append((sc.name, st)),
    )
    assert same_results(serial, tasks)
    # fewer scenarios than workers: scenarios in turn, their coalitions spread instead
    assert same_results(serial, run_scenarios(scenarios, executor=PicklingExecutor(4)))
    assert stages == [(s.name, "plan") for s in scenarios] + [(s.name, "done") for s in scenarios]
    assert all(r.shares for r in serial)


def test_cancel_and_progress_stay_on_the_driver() -> None:
    """A remote round ships the options without the cancel event (it cannot be pickled)."""
    problem, players = game(14, parks=3)
    cancel = threading.Event()
    cc = CoalitionCosts(
        problem, players, options=SolveOptions(cancel=cancel), executor=PicklingExecutor(2)
    )
    assert cc.game(remote=True).options.cancel is None
    assert cc.game().options.cancel is cancel
    cc.all_values()
    assert cc.solves == 7


def test_cli_ray_address_needs_the_ray_executor(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["facilities", str(SCENARIO), "--out", str(tmp_path / "out"), "--ray-address", "local"],
    )
    assert result.exit_code == 2
    assert "--ray-address needs --executor ray" in result.output


def test_cli_help_names_the_executors() -> None:
    result = CliRunner().invoke(cli, ["facilities", "--help"])
    assert result.exit_code == 0
    assert "--executor [local|ray]" in result.output
    assert "--ray-address ADDRESS" in result.output


def test_a_shared_value_off_ray_is_the_value_itself() -> None:
    values = [1, 2, 3]
    handle = share(LocalExecutor(2), values)
    assert isinstance(handle, Shared)
    assert handle.get() is values
    assert share(PicklingExecutor(), values).get() == values
