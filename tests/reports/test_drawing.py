"""Charts drawn by the drawing processes: the same bytes as drawn here, a dead process
replaced without losing a chart, errors raised as before, no process left behind and no
caller's script run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from zone_opt.reports import drawing
from zone_opt.reports.drawing import PngJob, draw_pngs, prepare_drawing, write_png

PNG = b"\x89PNG\r\n\x1a\n"


def _spec(n: int, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "data": {"values": [{"park": f"园区 {i}", "area_m2": 1000 * (i + 1)} for i in range(n)]},
        "mark": "bar",
        "encoding": {
            "y": {"field": "park", "type": "nominal"},
            "x": {"field": "area_m2", "type": "quantitative", "axis": {"format": ",d"}},
        },
        "config": {"font": "Noto Sans CJK SC"},
    }


def _jobs(folder: Path, lang: str = "zh") -> list[PngJob]:
    return [
        PngJob(_spec(n, f"闲置面积 {n}"), folder / f"chart-{n}.png", lang)  # type: ignore[arg-type]
        for n in (1, 3, 8, 20)
    ]


def _pids() -> list[int]:
    prepare_drawing()
    pids = []
    for child in drawing._CHILDREN:
        with child.lock:
            proc = child.running()
            assert proc is not None
            pids.append(proc.pid)
    return pids


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_drawn_there_equals_drawn_here(tmp_path: Path, lang: str) -> None:
    paths = draw_pngs(_jobs(_dir(tmp_path / "there"), lang)).result()
    assert [p.name for p in paths] == ["chart-1.png", "chart-3.png", "chart-8.png", "chart-20.png"]
    for job, path in zip(_jobs(_dir(tmp_path / "here"), lang), paths, strict=True):
        here = write_png(job.spec, job.path, lang=job.lang)
        assert path.read_bytes()[:8] == PNG
        assert path.read_bytes() == here.read_bytes(), path.name


def test_a_killed_process_is_replaced_and_no_chart_is_lost(tmp_path: Path) -> None:
    reference = draw_pngs(_jobs(_dir(tmp_path / "ref"))).result()
    for pid in _pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    paths = draw_pngs(_jobs(_dir(tmp_path / "after"))).result()
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in reference]
    # New processes serve the next report.
    assert all(
        child._proc is not None and child._proc.poll() is None for child in drawing._CHILDREN
    )


def test_a_chart_vl_convert_rejects_raises_as_in_process(tmp_path: Path) -> None:
    bad = {"mark": "no-such-mark", "data": {"values": []}}
    with pytest.raises(ValueError, match="Vega-Lite to PNG conversion failed") as here:
        write_png(bad, tmp_path / "here.png")
    jobs = [*_jobs(_dir(tmp_path / "ok")), PngJob(bad, tmp_path / "bad.png")]
    with pytest.raises(ValueError, match="Vega-Lite to PNG conversion failed") as there:
        draw_pngs(jobs).result()
    assert str(there.value) == str(here.value)
    # The processes survive a bad chart and draw the next batch.
    assert len(draw_pngs(_jobs(_dir(tmp_path / "next"))).result()) == 4


@pytest.mark.parametrize("python", ["", "/nonexistent/python3"])
def test_without_a_drawing_process_charts_are_drawn_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, python: str
) -> None:
    reference = draw_pngs(_jobs(_dir(tmp_path / "ref"))).result()
    for child in drawing._CHILDREN:
        child.close()
    monkeypatch.setattr(sys, "executable", python)
    paths = draw_pngs(_jobs(_dir(tmp_path / "here"))).result()
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in reference]
    assert all(child._proc is None for child in drawing._CHILDREN)
    if python:
        assert "no drawing process" in caplog.text


def test_no_jobs_no_thread() -> None:
    assert draw_pngs([]).result() == []


_SCRIPT = """
import sys
from pathlib import Path
from zone_opt.reports import prepare_drawing
from zone_opt.reports.drawing import PngJob, draw_pngs, _CHILDREN

# Top-level code with no __name__ guard: a multiprocessing child would run it again.
with open(sys.argv[1], "a") as f:
    f.write("ran\\n")
prepare_drawing()
draw_pngs([PngJob({{"mark": "bar", "data": {{"values": [{{"a": 1}}]}},
    "encoding": {{"x": {{"field": "a", "type": "quantitative"}}}}}}, Path(sys.argv[2]))]).result()
print(" ".join(str(c._proc.pid) for c in _CHILDREN), flush=True)
{tail}
"""


def _run_script(tmp_path: Path, tail: str) -> tuple[subprocess.Popen[str], list[int]]:
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(_SCRIPT.format(tail=tail)))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "ran.txt"), str(tmp_path / "a.png")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    return proc, pids


def _close(proc: subprocess.Popen[str]) -> None:
    if proc.stdout is not None:
        proc.stdout.close()


def _gone(pids: list[int], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_users_script_runs_once_and_leaves_no_process(tmp_path: Path) -> None:
    proc, pids = _run_script(tmp_path, "")
    assert proc.wait(timeout=60) == 0
    _close(proc)
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG
    assert pids
    assert _gone(pids)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_the_processes_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    proc, pids = _run_script(tmp_path, "import time; time.sleep(60)")
    assert pids
    proc.kill()
    proc.wait()
    _close(proc)
    assert _gone(pids)


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
