"""openmined-psi 2.0.6, whole protocol in one process (raw container: exact).

Usage: ``python openmined_run.py SERVER.txt CLIENT.txt``, one id per line. Prints one JSON
line: CPU seconds of the protocol, wall seconds, bytes of the three messages, the matched
client ids' count and SHA-256 (sorted, newline separated).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from typing import Any


def main(server_path: str, client_path: str) -> None:
    import private_set_intersection.python as psi  # type: ignore[import-not-found]  # noqa: PLC0415 (peer venv only)

    server_items = open(server_path, encoding="utf-8").read().split()  # noqa: SIM115
    client_items = open(client_path, encoding="utf-8").read().split()  # noqa: SIM115
    c0, t0 = time.process_time(), time.perf_counter()
    server: Any = psi.server.CreateWithNewKey(True)
    client: Any = psi.client.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(1e-9, len(client_items), server_items, psi.DataStructure.RAW)
    request = client.CreateRequest(client_items)
    response = server.ProcessRequest(request)
    matched = sorted(client_items[i] for i in client.GetIntersection(setup, response))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    size = sum(len(m.SerializeToString()) for m in (setup, request, response))
    digest = hashlib.sha256("\n".join(matched).encode()).hexdigest()[:16]
    print(
        json.dumps(
            {"cpu_s": cpu, "wall_s": wall, "bytes": size, "matched": len(matched), "sha256": digest}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
