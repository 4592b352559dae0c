"""CarbonService over a real server, checked against zone_opt.carbon called directly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zone_opt.api.v1 import carbon_pb2
from zone_opt.carbon.park import allocate_park, load_park_config
from zone_opt.client import CarbonInputs, Client
from zone_opt.errors import InvalidInputError, NotFoundError

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "carbon_demo"


def test_allocate_operation_equals_the_library_and_proofs_verify(
    alice: Client, bob: Client
) -> None:
    config = load_park_config(DEMO / "park.yaml")
    meters = pq.read_table(DEMO / "meters.parquet")
    tables = {k: pq.read_table(v) for k, v in config.tables.items()}
    ids = {k: alice.upload(t, k, kind=k) for k, t in tables.items()}
    meters_id = alice.upload(meters, "meters", kind="meters")
    op = alice.submit_carbon_allocate(
        meters_id,
        (DEMO / "park.yaml").read_text(encoding="utf-8"),
        inputs=CarbonInputs(
            tenancies_id=ids["tenancies"],
            spaces_id=ids["spaces"],
            park_assets_id=ids["park_assets"],
        ),
    )
    done = alice.wait(op, 120)
    assert done.state == "SUCCEEDED", done.error_message
    expected = allocate_park(dataclasses.replace(config, tables={}), meters, **tables)
    result = done.result_as(carbon_pb2.AllocateCarbonResult)
    assert result.audit_root == expected.audit_root
    assert result.audit_head == expected.audit_head
    assert result.balanced is True
    rows = alice.download(result.rows_dataset_id)
    assert rows.equals(expected.rows)
    recon = alice.download(result.reconciliation_dataset_id)
    assert recon.equals(expected.reconciliation)
    manifest = json.loads(result.manifest_json)
    assert manifest["audit"]["merkle_root"] == expected.audit_root.hex()
    # A proof checks out over the wire; a tampered row or root does not.
    row, proof = expected.proof(7)
    args = (proof.index, proof.tree_size, proof.path)
    assert alice.verify_audit_proof(row, *args, expected.audit_root)
    assert not alice.verify_audit_proof(row[:-1] + b"\xff", *args, expected.audit_root)
    assert not alice.verify_audit_proof(row, *args, bytes(32))
    # The next run chains to this one.
    again = alice.wait(
        alice.submit_carbon_allocate(
            meters_id,
            (DEMO / "park.yaml").read_text(encoding="utf-8"),
            previous_head=result.audit_head,
            inputs=CarbonInputs(
                tenancies_id=ids["tenancies"],
                spaces_id=ids["spaces"],
                park_assets_id=ids["park_assets"],
            ),
        ),
        120,
    )
    assert again.result_as(carbon_pb2.AllocateCarbonResult).audit_root == expected.audit_root
    assert again.result_as(carbon_pb2.AllocateCarbonResult).audit_head != expected.audit_head
    # Another tenant cannot use alice's datasets.
    with pytest.raises(NotFoundError):
        bob.submit_carbon_allocate(meters_id, "park_id: P00002\nstart: '2025-01-01'\n")


def test_bad_requests_are_invalid_argument(alice: Client) -> None:
    meters_id = alice.upload(pq.read_table(DEMO / "meters.parquet"), "meters", kind="meters")
    with pytest.raises(InvalidInputError) as info:
        alice.submit_carbon_allocate(meters_id, "")
    assert info.value.violations[0].field == "park_yaml"
    with pytest.raises(InvalidInputError) as info:
        alice.verify_audit_proof(b"row", 0, 1, [], b"short")
    assert info.value.violations[0].field == "root"
    # A bad configuration fails the operation with INVALID_ARGUMENT.
    op = alice.submit_carbon_allocate(meters_id, "park_id: P00002\nstart: '2025-01-01'\n"
                                      "grid: {factor_set: MEE-2031}\n")  # fmt: skip
    done = alice.wait(op, 60)
    assert done.state == "FAILED"
    assert "factor_set" in done.error_message


def test_old_carbon_keywords_still_work_and_warn(alice: Client) -> None:
    meters_id = alice.upload(pq.read_table(DEMO / "meters.parquet"), "meters", kind="meters")
    park_yaml = (DEMO / "park.yaml").read_text(encoding="utf-8")
    with (
        pytest.warns(DeprecationWarning, match="tenancies_id"),
        pytest.raises(NotFoundError) as err,
    ):
        alice.submit_carbon_allocate(meters_id, park_yaml, tenancies_id="no-such-dataset")
    assert "tenancies_dataset_id" in str(err.value) or "no-such-dataset" in str(err.value)
