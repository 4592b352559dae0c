"""Smoke test of an installed wheel, run by ``make wheel-smoke`` with the interpreter of a
fresh virtualenv that holds the wheel and nothing else, from a directory outside the
checkout (so nothing of the source tree or its ``datasets/`` folder is on hand).

Checks, failing with a message and exit code 1 at the first problem:
``zone-opt --help`` (its wall time printed: the command line imports no heavy library
before a command runs) and ``--version``; a mistake (a missing file) exits with code 2 and
no traceback; ``zone-opt demo`` (the sample region generated from its seed); ``zone-opt
match`` on that region with its report in Chinese (the shipped font embedded, chart PNGs
drawn, the Excel workbook written); ``zone-opt serve`` on a free loopback port with a fresh
data dir: health SERVING, the demo tenant's sample datasets listed, then SIGTERM ends it
with exit code 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ZONE_OPT = Path(sys.executable).with_name("zone-opt")


def _run(*args: str) -> str:
    done = subprocess.run(
        [str(ZONE_OPT), *args], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        sys.exit(f"zone-opt {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    print(f"ok: zone-opt {' '.join(args)}")
    return done.stdout


def _serve(work: Path) -> None:
    port_file = work / "port"
    tokens = work / "tokens.json"
    tokens.write_text(json.dumps({"smoke-token": "demo"}))
    with open(work / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [
                str(ZONE_OPT),
                "serve",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--data-dir",
                str(work / "data"),
                "--tokens",
                str(tokens),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"zone-opt serve did not start:\n{(work / 'serve.log').read_text()}")
            time.sleep(0.1)
        address = f"127.0.0.1:{int(port_file.read_text())}"
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=30
            )
        if health.status != health_pb2.HealthCheckResponse.SERVING:
            sys.exit(f"health is {health.status}, not SERVING")
        print(f"ok: zone-opt serve on {address}: SERVING")
        listed = subprocess.run(
            [str(ZONE_OPT), "client", "--address", address, "--token", "smoke-token", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        names = {json.loads(line)["name"] for line in listed.stdout.splitlines() if line}
        if listed.returncode != 0 or "sample/spaces" not in names:
            sys.exit(f"client list failed ({listed.returncode}): {names}\n{listed.stderr}")
        print(f"ok: zone-opt client list: {len(names)} datasets of the demo tenant")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    if code != 0:
        sys.exit(f"zone-opt serve exited {code} on SIGTERM:\n{(work / 'serve.log').read_text()}")
    print("ok: SIGTERM stopped the server cleanly")


def _report(work: Path) -> None:
    """The sample region matched with its report in Chinese: font, charts and workbook."""
    region, out = work / "sample", work / "match"
    _run("datasets", "generate", "--preset", "sample", "--out", str(region), "--no-progress")
    tables = [
        f"--{t}={region / f'{t}.parquet'}" for t in ("spaces", "enterprises", "parks", "tenancies")
    ]
    _run("match", *tables, "--out", str(out), "--lang", "zh")
    page = (out / "report.html").read_text(encoding="utf-8")
    if "@font-face" not in page or "base64," not in page or "园区" not in page:
        sys.exit("report.html lacks the embedded font or its Chinese labels")
    charts = sorted((out / "charts").glob("*.png"))
    if not charts or not (out / "matching.xlsx").is_file():
        sys.exit(f"match wrote no chart PNGs or workbook: {sorted(p.name for p in out.iterdir())}")
    print(f"ok: zone-opt match --lang zh: report.html, {len(charts)} chart PNGs, matching.xlsx")


def main() -> None:
    if "zone_opt" in os.environ.get("PYTHONPATH", ""):
        sys.exit("run with the wheel's own interpreter, no PYTHONPATH")
    import zone_opt  # noqa: PLC0415 (after the environment check)

    where = Path(zone_opt.__file__).resolve()
    if "site-packages" not in where.parts:
        sys.exit(f"zone_opt comes from {where}, not from the installed wheel")
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        usage = _run("--help")
        walls.append(time.perf_counter() - t0)
    if "Usage: zone-opt" not in usage or "Exit codes" not in usage:
        sys.exit(f"zone-opt --help printed no usage:\n{usage}")
    print(f"zone-opt --help: {min(walls):.3f} s wall (best of 3)")
    print(_run("--version").strip())
    mistake = subprocess.run(
        [str(ZONE_OPT), "demo", "--dir", "/nonexistent"],
        capture_output=True,
        text=True,
        check=False,
    )
    if mistake.returncode != 2 or "Traceback" in mistake.stderr or "--dir" not in mistake.stderr:
        sys.exit(f"zone-opt demo --dir /nonexistent: exit {mistake.returncode}\n{mistake.stderr}")
    print("ok: a mistake exits with code 2 and a message")
    summary = _run("demo")
    if "parks: 6" not in summary:
        sys.exit(f"demo printed no sample summary:\n{summary}")
    with tempfile.TemporaryDirectory() as work:
        _report(Path(work))
        _serve(Path(work))


if __name__ == "__main__":
    main()
