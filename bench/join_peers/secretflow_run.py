"""SecretFlow PSI (the ``spu==0.9.5`` wheel's libpsi), ECDH on curve 25519 or RR22 (VOLE),
two processes talking brpc over loopback.

Usage: ``python secretflow_run.py SERVER.csv CLIENT.csv OUTDIR [ecdh|rr22]``; run it inside
``unshare -n`` (after ``ip link set lo up``) so the loopback byte counters hold only this
protocol's traffic, else bytes are reported as null. Prints one JSON line as
``openmined_run.py`` does; CPU is both parties' ``psi_execute`` plus the ``sort``
processes it spawns (interpreter start-up and imports excluded).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import resource
import socket
import sys
import time
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _party(
    rank: int, ports: list[int], inputs: list[str], outdir: str, conn: Any, *, protocol: str
) -> None:
    from spu import psi  # type: ignore[import-not-found]  # noqa: PLC0415 (peer venv only)
    from spu.libspu import link  # type: ignore[import-not-found]  # noqa: PLC0415

    desc = link.Desc()
    desc.recv_timeout_ms = 600_000
    for i, port in enumerate(ports):
        desc.add_party(f"party{i}", f"127.0.0.1:{port}")
    lctx = link.create_brpc(desc, rank)
    if protocol == "rr22":
        protocol_conf = psi.PsiProtocolConfig(
            protocol=psi.PsiProtocol.PROTOCOL_RR22, receiver_rank=1, broadcast_result=False
        )
    else:
        protocol_conf = psi.PsiProtocolConfig(
            protocol=psi.PsiProtocol.PROTOCOL_ECDH,
            receiver_rank=1,
            broadcast_result=False,
            ecdh_params=psi.EcdhParams(curve=psi.EllipticCurveType.CURVE_25519),
        )
    config = psi.PsiExecuteConfig(
        protocol_conf=protocol_conf,
        input_params=psi.InputParams(path=inputs[rank], selected_keys=["id"], keys_unique=True),
        output_params=psi.OutputParams(path=f"{outdir}/out{rank}.csv", disable_alignment=True),
        join_conf=psi.ResultJoinConfig(type=psi.ResultJoinType.JOIN_TYPE_INNER_JOIN),
    )
    c0 = time.process_time()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    psi.psi_execute(config, lctx)
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
    conn.send(time.process_time() - c0 + children)
    lctx.stop_link()


def _lo_bytes() -> int | None:
    """Bytes sent on loopback in this network namespace (``/proc/net/dev`` is per netns)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == "lo":
            return int(rest.split()[8])
    return None


def main(server_csv: str, client_csv: str, outdir: str, protocol: str = "ecdh") -> None:
    ports = [_free_port(), _free_port()]
    inputs = [server_csv, client_csv]
    isolated = os.environ.get("PSI_NETNS") == "1"
    b0 = _lo_bytes()
    t0 = time.perf_counter()
    ctx = mp.get_context("spawn")
    pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
    procs = [
        ctx.Process(
            target=_party,
            args=(r, ports, inputs, outdir, pipes[r][1]),
            kwargs={"protocol": protocol},
        )
        for r in range(2)
    ]
    for p in procs:
        p.start()
    cpu = sum(pipes[r][0].recv() for r in range(2))
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    b1 = _lo_bytes()
    size = b1 - b0 if isolated and b0 is not None and b1 is not None else None
    lines = Path(f"{outdir}/out1.csv").read_text(encoding="utf-8").split()[1:]
    matched = sorted(x.strip('"') for x in lines)
    digest = hashlib.sha256("\n".join(matched).encode()).hexdigest()[:16]
    print(
        json.dumps(
            {"cpu_s": cpu, "wall_s": wall, "bytes": size, "matched": len(matched), "sha256": digest}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], *sys.argv[4:5])
