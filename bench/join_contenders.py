"""The join suite's four main contenders alone, one after another on the same instance:
zone-opt ``protocol="dh"`` and ``protocol="vole"``, SecretFlow ECDH-25519 and RR22 (from
``.venv-join-peers``). Skips openmined-psi (about 5 CPU-minutes at 2^20), so the closing
table of ``docs/join-vole.md`` can be re-measured quickly. Prints one JSON line per
contender (the suite's summary plus the 1-minute load average) and checks that every
contender's intersection agrees.

Usage: ``.venv/bin/python -m bench.join_contenders 16 18 20`` (log2 of n per side).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from bench.suites import join


def main(log2_sizes: list[int]) -> int:
    runs: list[tuple[str, Callable[[join.Instance], dict[str, Any]]]] = [
        ("zone-opt dh", join._zone_opt),
        ("zone-opt vole", join._zone_opt_vole),
    ]
    if join.PEERS_PY.exists():
        runs += [
            ("SecretFlow ECDH-25519", join._secretflow),
            ("SecretFlow RR22", join._secretflow_rr22),
        ]
    for k in log2_sizes:
        inst = join._instance(1 << k)
        seen = set()
        for name, run in runs:
            load = os.getloadavg()[0]
            summary = join._summarize(inst, run(inst))
            print(json.dumps({"name": name, "log2_n": k, "load1": round(load, 1), **summary}))
            seen.add((summary["matched"], summary["sha256"]))
        if len(seen) != 1:
            print(f"2^{k}: contenders disagree: {seen}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main([int(a) for a in sys.argv[1:]] or [16]))
