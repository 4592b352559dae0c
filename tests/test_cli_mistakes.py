"""Mistakes a user makes by accident: each gives the documented exit code and a message
naming the file, option or field and the reason, never a traceback, and no partial output.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import zone_opt.cli.demo
from zone_opt.cli import main
from zone_opt.cli.exits import ExitCode
from zone_opt.datasets import SAMPLE_DIR
from zone_opt.errors import InvalidInputError, ServiceError, SolverError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "datasets"
LP = DATA / "sip_park_1" / "lp.yaml"
MILP = DATA / "sip_park_1" / "milp.yaml"
CARBON = DATA / "carbon_demo"

Run = Callable[..., str]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv, code=...)``: stderr of ``zone-opt argv``, which must exit with ``code``."""

    def go(*argv: str | Path, code: int) -> str:
        got = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert got == code, f"exit {got}, not {code}\n{out}\n{err}"
        assert "Traceback" not in out + err
        return err

    return go


def _nothing_left(directory: Path) -> None:
    """No output and no staging file or directory left in ``directory``."""
    assert [p.name for p in directory.iterdir() if "out" in p.name or "partial" in p.name] == []


def _region(tmp_path: Path) -> Path:
    region = tmp_path / "region"
    region.mkdir()
    for table in SAMPLE_DIR.glob("*.parquet"):
        (region / table.name).write_bytes(table.read_bytes())
    return region


def test_a_corrupt_parquet_file_is_named(run: Run, tmp_path: Path) -> None:
    region = _region(tmp_path)
    (region / "spaces.parquet").write_bytes(b"PAR1 this is not a parquet file")
    err = run("datasets", "validate", region, code=2)
    assert "spaces.parquet" in err
    assert "not a readable Parquet file" in err
    assert "magic bytes" in err
    err = run("demo", "--dir", region, code=2)
    assert "--dir" in err
    assert "spaces.parquet" in err


@pytest.mark.parametrize(
    ("argv", "named", "reason"),
    [
        (["join", "--left", "nope.parquet", "--on", "k", "--peer", "h:1", "--dataset", "d"],
         "--left", "does not exist"),
        (["client", "--token", "t", "upload", "nope.parquet", "--kind", "parks"],
         "PATH", "does not exist"),
        (["dispatch", LP, "--start", "tomorrow", "--hours", "24", "--out", "o"],
         "--start", "'tomorrow' is not a date: use YYYY-MM-DD"),
        (["dispatch", LP, "--start", "2025-07-14", "--hours", "nan", "--out", "o"],
         "--hours", "not a finite number"),
        (["dispatch", LP, "--start", "2025-07-14", "--hours", "inf", "--out", "o"],
         "--hours", "not a finite number"),
        (["dispatch", LP, "--start", "2025-07-14", "--hours", "0", "--out", "o"],
         "--hours", "must be > 0"),
        (["dispatch", LP, "--start", "2025-07-14", "--hours", "24", "--gap", "1.5", "--out", "o"],
         "--gap", "must be < 1"),
        (["dispatch", "nope.yaml", "--start", "2025-07-14", "--hours", "24", "--out", "o"],
         "SCENARIO", "does not exist"),
        (["demo", "--dir", "/nonexistent"], "--dir", "does not exist"),
        (["datasets", "validate", "/nonexistent"], "DIRECTORY", "does not exist"),
        (["match", "--spaces", "s.parquet", "--enterprises", "e", "--parks", "p", "--out", "o"],
         "--spaces", "does not exist"),
        (["match", "--spaces", SAMPLE_DIR / "spaces.parquet",
          "--enterprises", SAMPLE_DIR / "enterprises.parquet", "--parks",
          SAMPLE_DIR / "parks.parquet", "--out", "o", "--k", "0"], "--k", "0 is not in the range"),
        (["match", "--spaces", SAMPLE_DIR / "spaces.parquet",
          "--enterprises", SAMPLE_DIR / "enterprises.parquet", "--parks",
          SAMPLE_DIR / "parks.parquet", "--out", "o", "--now", "2025-13-01"],
         "--now", "not a date"),
        (["recommend", "--dir", SAMPLE_DIR, "--spaces", SAMPLE_DIR / "spaces.parquet"],
         "--dir", "exclude each other"),
        (["recommend", "--spaces", SAMPLE_DIR / "spaces.parquet"], "--enterprises", "give --dir"),
        (["carbon", "allocate", "--meters", "m.parquet", "--park", CARBON / "park.yaml",
          "--out", "o"], "--meters", "does not exist"),
        (["client", "--timeout-s", "-1", "list"], "--timeout-s", "must be > 0"),
        (["serve", "--port", "70000"], "--port", "not in the range"),
        (["no-such-command"], "no-such-command", "No such command"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_before_any_work(
    run: Run,
    argv: list[str | Path],
    named: str,
    reason: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    err = run(*argv, code=2)
    assert named in err
    assert reason in err
    _nothing_left(tmp_path)


def test_an_empty_meters_table_is_bad_input(run: Run, tmp_path: Path) -> None:
    meters = tmp_path / "meters.parquet"
    pq.write_table(pq.read_table(CARBON / "meters.parquet").slice(0, 0), meters)
    out = tmp_path / "out"
    err = run("carbon", "allocate", "--meters", meters, "--park", CARBON / "park.yaml",
              "--out", out, code=2)  # fmt: skip
    assert "--meters" in err
    assert str(meters) in err
    assert "no rows" in err
    assert not out.exists()


def test_bad_yaml_is_named(run: Run, tmp_path: Path) -> None:
    park = tmp_path / "park.yaml"
    park.write_text("park_id: [unclosed\n")
    err = run("carbon", "allocate", "--meters", CARBON / "meters.parquet", "--park", park,
              "--out", tmp_path / "out", code=2)  # fmt: skip
    assert "park.yaml" in err
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("parks: {\n")
    err = run("facilities", scenario, "--out", tmp_path / "out", code=2)
    assert "not valid YAML" in err
    err = run("dispatch", scenario, "--start", "2025-07-14", "--hours", "24",
              "--out", tmp_path / "out", code=2)  # fmt: skip
    assert "scenario" in err.lower()
    assert not (tmp_path / "out").exists()


def test_library_errors_name_the_option(run: Run, tmp_path: Path) -> None:
    err = run("dispatch", LP, "--start", "2025-07-14", "--hours", "1000000", "--no-progress",
              "--out", tmp_path / "out", code=2)  # fmt: skip
    assert "--hours" in err
    assert "must be <=" in err
    assert not (tmp_path / "out").exists()


def test_a_directory_without_a_region_is_not_replaced_by_the_sample(
    run: Run, tmp_path: Path
) -> None:
    err = run("demo", "--dir", tmp_path, code=2)
    assert "does not exist" in err
    assert "parks" in err


def test_many_violations_fit_one_screen(run: Run, tmp_path: Path) -> None:
    region = _region(tmp_path)
    parks = pq.read_table(region / "parks.parquet")
    pq.write_table(parks.slice(1), region / "parks.parquet")  # every space of park 1 dangles
    err = run("datasets", "validate", region, code=2)
    assert "spaces.park_id (row 0)" in err
    assert "... and" in err
    assert len(err.splitlines()) <= 16


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (RuntimeError("boom"), ExitCode.INTERNAL,
         "internal error: RuntimeError: boom (run `zone-opt --debug ...` for the traceback)"),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
        (FileNotFoundError(2, "No such file or directory", "x.parquet"), ExitCode.BAD_INPUT,
         "x.parquet: No such file or directory"),
        (PermissionError(13, "Permission denied", "y.yaml"), ExitCode.BAD_INPUT,
         "y.yaml: Permission denied"),
        (InvalidInputError.single("spaces.area_m2", 3, "must be positive"), ExitCode.BAD_INPUT,
         "spaces.area_m2 (row 3): must be positive"),
        (ServiceError("connection refused"), ExitCode.SERVER, "connection refused"),
        (SolverError("HiGHS failed"), ExitCode.NO_SOLUTION, "HiGHS failed"),
    ],
)  # fmt: skip
def test_each_kind_of_error_has_its_exit_code(
    run: Run, monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, message: str
) -> None:
    def fail(directory: Path | None = None) -> None:
        raise raised

    monkeypatch.setattr(zone_opt.cli.demo, "load_sample", fail)
    err = run("demo", code=code)
    assert message in err


def test_remote_errors_by_status(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for status, code in [("UNAVAILABLE", 3), ("INTERNAL", 3), ("RESOURCE_EXHAUSTED", 3),
                         ("INVALID_ARGUMENT", 2), ("NOT_FOUND", 2)]:  # fmt: skip
        exc = InvalidInputError("refused") if code == 2 else ServiceError("down")
        exc.status_code = status

        def fail(directory: Path | None = None, exc: Exception = exc) -> None:
            raise exc

        monkeypatch.setattr(zone_opt.cli.demo, "load_sample", fail)
        err = run("demo", code=code)
        assert f"server status {status}" in err


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(directory: Path | None = None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(zone_opt.cli.demo, "load_sample", fail)
    assert main(["--debug", "demo"]) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "internal error: RuntimeError: boom" in err


def test_a_failed_run_leaves_the_previous_output(run: Run, tmp_path: Path) -> None:
    """Outputs are renamed into place at the end: a run that fails keeps what was there."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "assignments.parquet").write_bytes(b"from an earlier run")
    run("match", "--spaces", SAMPLE_DIR / "spaces.parquet",
        "--enterprises", SAMPLE_DIR / "spaces.parquet",  # the wrong table
        "--parks", SAMPLE_DIR / "parks.parquet", "--out", out, "--no-progress", code=2)  # fmt: skip
    assert (out / "assignments.parquet").read_bytes() == b"from an earlier run"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "zone_opt", "--log-level", "INFO", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], text: str) -> None:
    """Read the process's stderr up to a line containing ``text``."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never came:\n{''.join(seen)}")


@pytest.mark.slow
def test_ctrl_c_during_dispatch_stops_the_solver_and_writes_nothing(tmp_path: Path) -> None:
    """A rolling horizon of unit commitment (about 25 s): the first Ctrl-C cancels, the
    solver stops before its next window."""
    argv = ["dispatch", str(MILP), "--start", "2025-01-01", "--hours", "8760", "--rolling", "24",
            "--gap", "0", "--out", "run", "--no-progress"]  # fmt: skip
    proc = _start(argv, tmp_path)
    _read_until(proc, "solving 8760 h")
    time.sleep(1.0)  # inside the solver
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert time.monotonic() - t0 < 15
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "stopping at the solver's next check" in err
    assert "interrupted (Ctrl-C)" in err
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []  # no output directory, no staging directory


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    """One unit-commitment model of a year: HiGHS checks for a cancel rarely there, so the
    second Ctrl-C ends the process without waiting for it."""
    argv = ["dispatch", str(MILP), "--start", "2025-01-01", "--hours", "8760", "--gap", "0",
            "--out", "run", "--no-progress"]  # fmt: skip
    proc = _start(argv, tmp_path)
    _read_until(proc, "solving 8760 h")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _read_until(proc, "Ctrl-C again to stop now")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted (Ctrl-C)" in err
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_while_generating_writes_nothing(tmp_path: Path) -> None:
    argv = ["datasets", "generate", "--preset", "city", "--out", "city", "--no-progress"]
    proc = _start(argv, tmp_path)
    _read_until(proc, "generating preset 'city'")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted (Ctrl-C)" in err
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_port_in_use_names_the_port(tmp_path: Path) -> None:
    """In a process of its own: a server that failed to bind leaves its data-dir lock open
    (zone_opt.service.server), harmless as the process ends."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--port", str(port), "--no-sample", "--data-dir", "d"]
        proc = _start(argv, tmp_path)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.BAD_INPUT, err
    assert f"--port: cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in out + err


def test_no_token_says_where_one_comes_from(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZONE_OPT_TOKEN", raising=False)
    err = run("client", "--data-dir", tmp_path, "list", code=2)
    assert "--token" in err
    assert "ZONE_OPT_TOKEN" in err
    assert str(tmp_path / "demo-token") in err


def test_a_bad_environment_variable_is_named(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZONE_OPT_NUM_THREADS", "many")
    err = run("demo", code=2)
    assert "ZONE_OPT_NUM_THREADS='many' is not an integer" in err
