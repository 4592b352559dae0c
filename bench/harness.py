"""The benchmark harness: suites registered by name, seeded cases, peers side by side.

A *suite* is a function ``(size) -> list[Case]`` registered with :func:`suite`. A
:class:`Case` makes one seeded instance (untimed) and runs each :class:`Contender` on it,
zone-opt and its peers, each in a forked child so that its wall time and its peak memory
are its own. Each contender's result is summarised in the child (untimed) and the case's
``agree`` check compares the summaries in the parent: the optimum must be identical, so a
fast wrong answer can never win. Reports give every contender's time, memory and the
ratio to zone-opt's, as JSON and Markdown under ``bench/results/``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import pkgutil
import platform
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import bench.suites as pkg

SIZES = ("smoke", "full")
RESULTS_DIR = Path(__file__).parent / "results"

Summary = dict[str, Any]


@dataclass(frozen=True)
class Contender:
    """One implementation run on a case's instance.

    ``run`` is timed; ``summarize(instance, output)`` is not, and returns a small dict
    (objective, counts) that the case compares across contenders. ``requires`` names
    modules that must import for the contender to run (peers may be absent). Runs under
    the harness' repeat threshold are repeated (best of up to 3); ``min_runs`` asks for at
    least that many runs (at most 3) whatever their length.
    """

    name: str
    run: Callable[[Any], Any]
    summarize: Callable[[Any, Any], Summary]
    ours: bool = False
    requires: tuple[str, ...] = ()
    timeout_s: float = 300.0
    min_runs: int = 1


def agree_on(*keys: str, rel_tol: float = 0.0) -> Callable[[dict[str, Summary]], None]:
    """A check that every contender's summary has the same value for each key."""

    def check(summaries: dict[str, Summary]) -> None:
        for key in keys:
            values = {name: s[key] for name, s in summaries.items() if key in s}
            if not values:
                continue
            ref_name, ref = next(iter(values.items()))
            for name, value in values.items():
                if rel_tol == 0.0:
                    ok = value == ref
                else:
                    ok = abs(value - ref) <= rel_tol * max(1.0, abs(ref))
                if not ok:
                    raise AssertionError(f"{key}: {name} gives {value!r}, {ref_name} {ref!r}")

    return check


AGREE_ON_OBJECTIVE = agree_on("objective")


@dataclass(frozen=True)
class Case:
    """A seeded instance and the contenders to run on it."""

    name: str
    make: Callable[[], Any]
    contenders: Sequence[Contender]
    agree: Callable[[dict[str, Summary]], None] = AGREE_ON_OBJECTIVE
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurement:
    contender: str
    ours: bool
    status: str  # ok | timeout | error | unavailable
    seconds: float | None = None
    peak_rss_mb: float | None = None
    extra_rss_mb: float | None = None
    cpu_seconds: float | None = None
    summary: Summary = field(default_factory=dict)
    error: str | None = None


_SUITES: dict[str, Callable[[str], list[Case]]] = {}


def suite(name: str) -> Callable[[Callable[[str], list[Case]]], Callable[[str], list[Case]]]:
    """Register ``fn(size) -> list[Case]`` as the suite ``name``."""

    def register(fn: Callable[[str], list[Case]]) -> Callable[[str], list[Case]]:
        _SUITES[name] = fn
        return fn

    return register


def load_suites() -> dict[str, Callable[[str], list[Case]]]:
    """Import every module of ``bench.suites`` (each registers its suites)."""
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"bench.suites.{info.name}")
    return dict(sorted(_SUITES.items()))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set
    except OSError:
        pass


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(contender: Contender, instance: Any, repeat_under_s: float, conn: Connection) -> None:
    try:
        _reset_peak_rss()
        base = _rss_mb()
        best = float("inf")
        cpu_best = float("inf")
        output: Any = None
        for attempt in range(3):
            c0 = time.process_time()
            t0 = time.perf_counter()
            output = contender.run(instance)
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            best = min(best, elapsed)
            cpu_best = min(cpu_best, cpu)
            if (elapsed >= repeat_under_s and attempt + 1 >= contender.min_runs) or attempt == 2:
                break
        peak = _peak_rss_mb()
        summary = contender.summarize(instance, output)
        conn.send(("ok", best, peak, peak - base, cpu_best, summary, None))
    except BaseException as exc:  # report, never hang the parent
        conn.send(("error", None, None, None, None, {}, f"{exc!r}\n{traceback.format_exc()}"))
    finally:
        conn.close()


def _available(contender: Contender) -> bool:
    for module in contender.requires:
        try:
            importlib.import_module(module)
        except ImportError:
            return False
    return True


def measure(contender: Contender, instance: Any, repeat_under_s: float = 0.7) -> Measurement:
    """Run one contender in a forked child; wall time is the best of up to 3 short runs."""
    if not _available(contender):
        return Measurement(contender.name, contender.ours, "unavailable")
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(contender, instance, repeat_under_s, send))
    proc.start()
    send.close()
    if not recv.poll(contender.timeout_s):
        proc.kill()
        proc.join()
        return Measurement(contender.name, contender.ours, "timeout", seconds=contender.timeout_s)
    try:
        status, secs, peak, extra, cpu, summary, err = recv.recv()
    except EOFError:
        status, secs, peak, extra, cpu, summary = "error", None, None, None, None, {}
        err = f"child died with exit code {proc.exitcode}"
    proc.join()
    return Measurement(contender.name, contender.ours, status, secs, peak, extra, cpu, summary, err)


def run_case(case: Case, check_only: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    instance = case.make()
    make_s = time.perf_counter() - t0
    results = [
        measure(c, instance, repeat_under_s=0.0 if check_only else 0.7) for c in case.contenders
    ]
    ok = {m.contender: m.summary for m in results if m.status == "ok"}
    agreement = "ok"
    try:
        case.agree(ok)
    except AssertionError as exc:
        agreement = f"DISAGREE: {exc}"
    ours = next((m for m in results if m.ours and m.status == "ok"), None)
    rows = []
    for m in results:
        row = asdict(m)
        if ours and ours.seconds and m.seconds and m.status in ("ok", "timeout"):
            # > 1 means the peer takes longer than zone-opt (a timeout is a lower bound).
            row["peer_over_ours"] = m.seconds / ours.seconds
        rows.append(row)
    return {
        "case": case.name,
        "params": case.params,
        "make_s": make_s,
        "agreement": agreement,
        "results": rows,
    }


def _fmt(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:.3g}{unit}"


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# {report['suite']} ({report['size']})", "", f"{report['machine']}", ""]
    lines += [
        "| case | contender | status | wall s | CPU s | peak RSS MB | extra MB"
        " | peer ÷ ours | agreement |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in report["cases"]:
        for r in case["results"]:
            name = f"**{r['contender']}**" if r["ours"] else r["contender"]
            status = r["status"] if r["status"] != "timeout" else f">{r['seconds']:.0f}s"
            lines.append(
                f"| {case['case']} | {name} | {status} | {_fmt(r['seconds'])} "
                f"| {_fmt(r['cpu_seconds'])} "
                f"| {_fmt(r['peak_rss_mb'])} | {_fmt(r['extra_rss_mb'])} "
                f"| {_fmt(r.get('peer_over_ours'), '×')} | {case['agreement']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="*", help="suite names (default: all)")
    parser.add_argument("--size", choices=SIZES, default="smoke")
    parser.add_argument(
        "--check-only", action="store_true", help="check agreement; no timing repeats"
    )
    parser.add_argument("--case", default="", help="run only cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    suites = load_suites()
    if args.list:
        for name, fn in suites.items():
            print(f"{name}: {(fn.__doc__ or '').strip().splitlines()[0] if fn.__doc__ else ''}")
        return 0
    unknown = [s for s in args.suites if s not in suites]
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; known: {sorted(suites)}")
    failures = 0
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    for name in args.suites or list(suites):
        report: dict[str, Any] = {"suite": name, "size": args.size, "machine": machine, "cases": []}
        for case in suites[name](args.size):
            if args.case not in case.name:
                continue
            print(f"[{name}/{case.name}] running {len(case.contenders)} contenders", flush=True)
            result = run_case(case, args.check_only)
            report["cases"].append(result)
            for r in result["results"]:
                if r["ours"] and r["status"] != "ok":
                    failures += 1
                    print(
                        f"  zone-opt {r['contender']}: {r['status']} {r['error'] or ''}",
                        file=sys.stderr,
                    )
            if result["agreement"] != "ok":
                failures += 1
                print(f"  {result['agreement']}", file=sys.stderr)
        markdown = to_markdown(report)
        print(markdown)
        if not args.check_only and not args.case:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}-{args.size}.json").write_text(
                json.dumps(report, indent=2, default=str)
            )
            (args.out / f"{name}-{args.size}.md").write_text(markdown)
    print(f"{failures} failed" if failures else "all benchmark checks passed")
    return 1 if failures else 0
