"""Shared cases of the sharded streaming-PSI tests (local executor and Ray cluster): key
sets with duplicates on both sides, and one session run every way."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from zone_opt.distributed import Executor
from zone_opt.join import (
    JoinOptions,
    JoinReceiver,
    JoinSender,
    StreamingJoinReceiver,
    StreamingJoinSender,
)

#: uscc-shaped keys would need the checksum; the cases use text keys.
SERVER_KEYS = [f"Ent-{i:06d}" for i in range(0, 9000, 3)] + ["Ent-000003"] * 4
CLIENT_KEYS = [f" ent-{i:06d} " for i in range(4000, 7000)] + [
    f"ENT-{i:06d}" for i in range(6990, 7010)
]


def table(keys: list[str]) -> pa.Table:
    return pa.table({"id": pa.array(keys, pa.string())})


def in_memory() -> npt.NDArray[np.int64]:
    """The in-memory protocol's matched rows of the receiver."""
    options = JoinOptions(key_kind="text")
    server = JoinSender(SERVER_KEYS, options=options)
    client = JoinReceiver(CLIENT_KEYS, options=options)
    setup = server.setup_message()
    return client.finish(setup, server.respond(client.request())).indices


def streamed(
    buckets: int, executor: Executor | None, batch_rows: int = 1000
) -> tuple[npt.NDArray[np.int64], StreamingJoinSender, StreamingJoinReceiver]:
    """One streaming session, both parties on ``executor`` (None: today's path); the
    parties are closed on return (their stats and counters stay readable)."""
    kw = {"buckets": buckets, "batch_rows": batch_rows, "key_kind": "text", "executor": executor}
    with (
        StreamingJoinSender(table(SERVER_KEYS), "id", **kw) as server,  # type: ignore[arg-type]
        StreamingJoinReceiver(table(CLIENT_KEYS), "id", **kw) as client,  # type: ignore[arg-type]
    ):
        result = client.run(server.respond, server.setup_parts())
    return result.indices, server, client
