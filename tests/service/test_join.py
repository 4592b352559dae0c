"""JoinService: two real servers, the receiver's server calling the sender's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zone_opt.cli import main
from zone_opt.client import Client, PeerDataset
from zone_opt.errors import (
    InvalidInputError,
    JoinPolicyError,
    NotFoundError,
    ResourceExhaustedError,
)
from zone_opt.join import JoinQuery
from zone_opt.join.policy import AuditEntry, JoinPolicy
from zone_opt.rpc.join import audit_from_proto, audit_to_proto


def test_labelled_join_through_both_servers_with_policy_quota_and_audit(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    n = enterprises.num_rows
    ours = enterprises.slice(n // 3)  # the receiver holds the last two thirds
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob_at_sender,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(enterprises.slice(0, 2 * n // 3), "theirs", kind="enterprises")
        policy = JoinPolicy(
            dataset_id=theirs_id,
            key_column="enterprise_id",
            allowed_peers=("bob",),
            modes=("intersection", "labelled", "cardinality"),
            payload_columns=("industry_code", "power_need_kva"),
            quota_per_epoch=3,
        )
        assert alice.set_join_policy(policy) == policy
        assert alice.get_join_policy(theirs_id) == policy
        with pytest.raises(NotFoundError):  # another tenant's dataset
            bob_at_sender.get_join_policy(theirs_id)
        # Another tenant can neither read nor replace the policy.
        with pytest.raises(NotFoundError):
            bob_at_sender.set_join_policy(policy)
        with pytest.raises(NotFoundError):
            bob_at_sender.join_audit(theirs_id)
        # The owner itself is not an allowed peer: refused.
        with pytest.raises(JoinPolicyError):
            alice.private_join(ours.column("enterprise_id"), theirs_id)
        # A column the policy does not release, a mode it does not allow.
        with pytest.raises(JoinPolicyError):
            bob_at_sender.private_join(
                ours.column("enterprise_id"),
                theirs_id,
                query=JoinQuery(mode="labelled", columns=("name",)),
            )
        with pytest.raises(JoinPolicyError):
            bob_at_sender.private_join(
                ours.column("enterprise_id"),
                theirs_id,
                query=JoinQuery(mode="sum"),
                values=pa.array([1] * ours.num_rows),
            )

        ours_id = bob.upload(ours, "ours", kind="enterprises")
        result = bob.run_join(
            ours_id,
            "enterprise_id",
            PeerDataset("sender", theirs_id, token="token-bob"),
            query=JoinQuery("labelled", ("industry_code", "power_need_kva"), verifiable=True),
        )
        assert result.result_dataset_id is not None
        joined = bob.download(result.result_dataset_id)
        theirs = enterprises.slice(0, 2 * n // 3)
        want = ours.select(["enterprise_id"]).join(
            theirs.select(["enterprise_id", "industry_code", "power_need_kva"]),
            "enterprise_id",
            join_type="inner",
        )
        assert joined.num_rows == want.num_rows == result.rows
        got = sorted(
            zip(
                joined.column("enterprise_id").to_pylist(),
                joined.column("peer_industry_code").to_pylist(),
                joined.column("peer_power_need_kva").to_pylist(),
                strict=True,
            )
        )
        expected = sorted(
            zip(
                want.column("enterprise_id").to_pylist(),
                want.column("industry_code").to_pylist(),
                want.column("power_need_kva").to_pylist(),
                strict=True,
            )
        )
        assert got == expected

        count = bob_at_sender.private_join(
            ours.column("enterprise_id"), theirs_id, query=JoinQuery(mode="cardinality")
        )
        common = pc.is_in(ours.column("enterprise_id"), value_set=theirs.column("enterprise_id"))
        assert count.count == pc.sum(common).as_py()
        inter = bob_at_sender.private_join(ours.column("enterprise_id"), theirs_id)
        assert inter.indices.tolist() == [i for i, x in enumerate(common.to_pylist()) if x]
        # Quota: 3 sessions per epoch were used.
        with pytest.raises(ResourceExhaustedError):
            bob_at_sender.private_join(ours.column("enterprise_id"), theirs_id)

        audit = alice.join_audit(theirs_id)
        evaluated = [e for e in audit if e.outcome == "evaluated"]
        assert len(evaluated) == 3
        assert {e.peer for e in evaluated} == {"bob"}
        assert all(e.sender_keys == theirs.num_rows for e in evaluated)
        assert all(e.receiver_keys == ours.num_rows for e in evaluated)
        assert sum(e.outcome.startswith("refused") for e in audit) == 4
        assert sorted(e.mode for e in evaluated) == ["cardinality", "intersection", "labelled"]


def test_unknown_policy_and_sessions(two_servers: tuple[int, int]) -> None:
    sender_port, _ = two_servers
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob,
        pytest.raises(NotFoundError),
    ):
        bob.private_join(pa.array(["9144030071526726XG"]), "no-such-dataset")


def test_cli_join_against_a_peer_server(
    two_servers: tuple[int, int],
    sample: Callable[[str], pa.Table],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sender_port, _ = two_servers
    enterprises = sample("enterprises")
    n = enterprises.num_rows
    with Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice:
        theirs_id = alice.upload(enterprises.slice(0, n // 2), "theirs", kind="enterprises")
        alice.set_join_policy(
            JoinPolicy(
                dataset_id=theirs_id,
                key_column="enterprise_id",
                allowed_peers=("bob",),
                modes=("labelled",),
                payload_columns=("industry_code",),
                quota_per_epoch=5,
            )
        )
    left = tmp_path / "left.parquet"
    pq.write_table(enterprises.slice(n // 4).select(["enterprise_id", "name"]), left)
    out = tmp_path / "joined.parquet"
    code = main(
        [
            "join",
            "--left", str(left),
            "--on", "enterprise_id",
            "--peer", f"127.0.0.1:{sender_port}",
            "--dataset", theirs_id,
            "--mode", "labelled",
            "--columns", "industry_code",
            "--token", "token-bob",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    joined = pq.read_table(out)
    want = enterprises.slice(n // 4, n // 2 - n // 4)
    assert sorted(joined.column("enterprise_id").to_pylist()) == sorted(
        want.column("enterprise_id").to_pylist()
    )
    by_id = dict(
        zip(
            want.column("enterprise_id").to_pylist(),
            want.column("industry_code").to_pylist(),
            strict=True,
        )
    )
    assert all(
        by_id[k] == v
        for k, v in zip(
            joined.column("enterprise_id").to_pylist(),
            joined.column("industry_code").to_pylist(),
            strict=True,
        )
    )
    assert '"rows"' in capsys.readouterr().out


def test_sum_through_the_service_respects_the_minimum_intersection(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, _ = two_servers
    ids = sample("enterprises").column("enterprise_id")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob,
    ):
        theirs = sample("enterprises").slice(0, 100)
        theirs_id = alice.upload(theirs, "theirs", kind="enterprises")
        policy = JoinPolicy(
            dataset_id=theirs_id,
            key_column="enterprise_id",
            allowed_peers=("bob",),
            modes=("sum",),
            quota_per_epoch=10,
            min_intersection=30,
        )
        alice.set_join_policy(policy)
        ours = ids.slice(60, 100)  # 40 common keys
        values = pa.array(list(range(100)), pa.int64())
        got = bob.private_join(ours, theirs_id, values=values, query=JoinQuery(mode="sum"))
        assert got.count == 40
        assert got.sum == sum(range(40))
        few = ids.slice(80, 100)  # 20 common keys: below the minimum, nothing released
        got = bob.private_join(few, theirs_id, values=values, query=JoinQuery(mode="sum"))
        assert got.count is None
        assert got.sum is None


def test_audit_entries_round_trip_through_the_wire() -> None:
    entries = [
        AuditEntry(
            "s1", "bob", "d1", "labelled", ("a", "b"), 10, 7, 1_700_000_000.25, None, "open"
        ),
        AuditEntry("s2", "eve", "d1", "sum", (), 3, 4, 1.5, 2.75, "evaluated"),
        AuditEntry("s3", "bob", "d2", "intersection", (), 9, 8, 3.0, 4.0, "evaluated", "vole"),
    ]
    for entry in entries:
        assert audit_from_proto(audit_to_proto(entry)) == entry


def test_old_client_join_keywords_still_work_and_warn(
    two_servers: tuple[int, int], sample: Callable[[str], pa.Table]
) -> None:
    sender_port, receiver_port = two_servers
    enterprises = sample("enterprises")
    with (
        Client(f"127.0.0.1:{sender_port}", token="token-alice") as alice,
        Client(f"127.0.0.1:{sender_port}", token="token-bob") as bob_at_sender,
        Client(f"127.0.0.1:{receiver_port}", token="token-bob") as bob,
    ):
        theirs_id = alice.upload(enterprises, "theirs", kind="enterprises")
        alice.set_join_policy(
            JoinPolicy(
                theirs_id, "enterprise_id", ("bob",), modes=("cardinality",), quota_per_epoch=5
            )
        )
        keys = enterprises.column("enterprise_id").slice(0, 50)
        with pytest.warns(DeprecationWarning, match="private_join"):
            old = bob_at_sender.private_join(keys, theirs_id, mode="cardinality")
        assert old.count == 50
        ours_id = bob.upload(enterprises.slice(0, 30), "ours", kind="enterprises")
        with (
            pytest.warns(DeprecationWarning, match="peer_dataset_id"),
            pytest.warns(DeprecationWarning, match=r"run_join\(\.\.\., mode=\).*query=JoinQuery"),
        ):
            run = bob.run_join(
                ours_id,
                "enterprise_id",
                peer="sender",
                peer_dataset_id=theirs_id,
                peer_token="token-bob",
                mode="cardinality",
            )
        assert (run.count, run.result_dataset_id, run.rows) == (30, None, None)
        with pytest.raises(InvalidInputError) as info:
            bob.run_join(ours_id, "enterprise_id", query=JoinQuery("cardinality"))
        assert info.value.violations[0].field == "theirs"
