"""Peak memory of a command and every process it starts (Ray's raylet, object store and
workers included), for runs too large for the benchmark harness (the ``nation`` preset).

    python -m bench.treemem LOG -- zone-opt match ... --executor ray --ray-address local

Samples the process tree every 0.25 s and prints, every 30 s and at the end:

* **PSS** summed over the tree (``/proc/PID/smaps_rollup``): each page counted once,
  shared pages split among the processes mapping them. The tree's memory; what a
  "peak memory" target is measured in.
* **RSS** summed over the tree: a page mapped by several processes (Ray's object store is
  mapped by the raylet, the driver and each worker reading an object) counted in each,
  so an overestimate, shown for comparison.
* the machine's use (``MemTotal - MemAvailable``) above its use at the start.

The command is killed when the tree's PSS passes ``--limit-gib`` (22) or the machine has
less than 1 GiB available, so a run that would not fit ends with a line saying so, not with
the kernel's out-of-memory killer. The command's output goes to LOG.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

KIB_PER_GIB = 1024 * 1024


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _meminfo_kib() -> dict[str, int]:
    with open("/proc/meminfo") as f:
        return {line.split(":")[0]: int(line.split()[1]) for line in f}


def _tree(root: int) -> tuple[int, int, int]:
    """(processes, RSS, PSS) of ``root`` and its descendants."""
    todo, seen, rss, pss = [root], set[int](), 0, 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        r, p = _rss_pss_kib(pid)
        rss, pss = rss + r, pss + p
        todo += _children(pid)
    return len(seen), rss, pss


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="python -m bench.treemem", description=__doc__)
    parser.add_argument("log", type=Path, help="file for the command's output")
    parser.add_argument("--limit-gib", type=float, default=22.0, help="kill above this PSS")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("no command given (put it after --)")
    limit_kib = int(args.limit_gib * KIB_PER_GIB)
    info = _meminfo_kib()
    used_at_start = info["MemTotal"] - info["MemAvailable"]
    peak_rss = peak_pss = peak_used = 0
    t0 = last = time.perf_counter()
    with args.log.open("w") as log:
        try:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            parser.error(f"cannot run {command[0]!r}: {exc.strerror}")
        while proc.poll() is None:
            n, rss, pss = _tree(proc.pid)
            info = _meminfo_kib()
            used = info["MemTotal"] - info["MemAvailable"] - used_at_start
            peak_rss, peak_pss, peak_used = (
                max(peak_rss, rss),
                max(peak_pss, pss),
                max(peak_used, used),
            )
            now = time.perf_counter()
            if pss > limit_kib or info["MemAvailable"] < KIB_PER_GIB:
                print(f"{now - t0:.0f} s: PSS {pss / KIB_PER_GIB:.2f} GiB, killing", flush=True)
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if now - last > 30:
                last = now
                print(
                    f"{now - t0:6.0f} s  PSS {pss / KIB_PER_GIB:6.2f} GiB  "
                    f"RSS {rss / KIB_PER_GIB:6.2f} GiB  processes {n}",
                    flush=True,
                )
            time.sleep(0.25)
        code = proc.wait()
    print(
        f"exit {code}, wall {time.perf_counter() - t0:.1f} s; peak over the tree: "
        f"PSS {peak_pss / KIB_PER_GIB:.2f} GiB, RSS summed {peak_rss / KIB_PER_GIB:.2f} GiB; "
        f"machine use above the start {peak_used / KIB_PER_GIB:.2f} GiB",
        flush=True,
    )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
