"""``zone-opt client``: every action against a real server, checked with the typed client."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zone_opt.cli import cli, main
from zone_opt.cli.client import ACTIONS
from zone_opt.cli.client import command as client_group
from zone_opt.client import Client
from zone_opt.datasets import SAMPLE_DIR
from zone_opt.join import JoinQuery
from zone_opt.service.server import Server

ROOT = Path(__file__).resolve().parents[2] / "datasets"
CARBON = ROOT / "carbon_demo"

Run = Callable[..., list[dict[str, Any]]]


def _leaves(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            names |= _leaves(cmd, f"{prefix}{name} ")
        names.add(f"{prefix}{name}")
    return names


#: Every action (and sub-action) of `zone-opt client`, each run by a test below.
EXERCISED = {
    "upload", "list", "describe", "download", "delete", "stats", "match", "recommend",
    "carbon", "facilities", "dispatch", "join-policy", "join-policy set", "join-policy get",
    "join-audit", "operations", "operations list", "operations get", "operations wait",
    "operations watch", "operations cancel", "operation", "wait", "cancel",
}  # fmt: skip


def test_every_action_is_registered_and_tested() -> None:
    assert cli.get_command(click.Context(cli), "client") is client_group
    assert set(client_group.commands) == set(ACTIONS)
    assert _leaves(client_group) == EXERCISED


@pytest.fixture
def address(server: tuple[Server, int]) -> str:
    return f"127.0.0.1:{server[1]}"


@pytest.fixture
def run(address: str, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run(*argv, code=0)``: ``zone-opt client`` as alice; its JSON lines on stdout."""
    base = ["client", "--address", address, "--token", "token-alice"]

    def go(*argv: str, code: int = 0) -> list[dict[str, Any]]:
        got = main([*base, *argv])
        out, err = capsys.readouterr()
        assert got == code, err
        assert "Traceback" not in out + err
        return [json.loads(line) for line in out.splitlines() if line]

    return go


def _upload(run: Run, *tables: str) -> dict[str, str]:
    ids = {}
    for table in tables:
        (out,) = run("upload", str(SAMPLE_DIR / f"{table}.parquet"), "--kind", table)
        ids[table] = str(out["dataset_id"])
    return ids


def test_dataset_and_matching_actions(run: Run, alice: Client, tmp_path: Path) -> None:
    ids = _upload(run, "spaces", "enterprises", "parks", "tenancies")
    listed = {d["dataset_id"] for d in run("list")}
    assert listed == set(ids.values())
    assert {d["dataset_id"] for d in run("list", "--kind", "parks")} == {ids["parks"]}
    (described,) = run("describe", ids["parks"])
    assert described["kind"] == "parks"
    (downloaded,) = run("download", ids["parks"], str(tmp_path / "parks.parquet"))
    assert downloaded["rows"] == pq.read_table(tmp_path / "parks.parquet").num_rows
    assert pq.read_table(tmp_path / "parks.parquet").equals(alice.download(ids["parks"]))
    (stats,) = run("stats", ids["parks"], "--wait")
    assert stats["state"] == "SUCCEEDED"
    (matched,) = run(
        "match", ids["spaces"], ids["enterprises"], ids["parks"],
        "--tenancies-id", ids["tenancies"], "--mode", "stable", "--k", "8", "--wait",
    )  # fmt: skip
    assert matched["state"] == "SUCCEEDED"
    assert matched["result"]["statistics"]["mode"] == "MATCH_MODE_STABLE"
    names = {stats["name"], matched["name"]}
    assert {o["name"] for o in run("operations")} >= names
    assert {o["name"] for o in run("operations", "list")} >= names
    (again,) = run("wait", str(matched["name"]))
    assert again["state"] == "SUCCEEDED"
    (again,) = run("operations", "wait", str(matched["name"]), "--timeout-s", "30")
    assert again["state"] == "SUCCEEDED"
    (op,) = run("operation", str(stats["name"]))
    assert op["name"] == stats["name"]
    (op,) = run("operations", "get", str(stats["name"]))
    assert op["name"] == stats["name"]
    recommended = run("recommend", "--k", "2")
    assert 0 < len(recommended) <= 20
    assert all(r["rank"] in (1, 2) for r in recommended)
    assert len(run("recommend", "--k", "1", "--limit", "3")) == 3
    (deleted,) = run("delete", ids["parks"])
    assert deleted == {"deleted": ids["parks"]}
    assert ids["parks"] not in {d.dataset_id for d in alice.list()}


def test_carbon_allocation(run: Run, alice: Client) -> None:
    ids = _upload(run, "tenancies", "spaces", "park_assets")
    (meters,) = run("upload", str(CARBON / "meters.parquet"), "--kind", "meters")
    args = [
        "carbon", str(meters["dataset_id"]), str(CARBON / "park.yaml"),
        "--tenancies-id", ids["tenancies"], "--spaces-id", ids["spaces"],
        "--park-assets-id", ids["park_assets"], "--wait",
    ]  # fmt: skip
    (done,) = run(*args)
    assert done["state"] == "SUCCEEDED", done["error_message"]
    result = done["result"]
    assert result["balanced"] is True
    assert alice.describe(result["rows_dataset_id"]).num_rows > 0
    (chained,) = run(*args, "--previous-head", result["audit_head"])
    assert chained["result"]["audit_root"] == result["audit_root"]
    assert chained["result"]["audit_head"] != result["audit_head"]
    run(*args, "--previous-head", "not-hex", code=2)


def test_facilities_watched_with_a_progress_bar(
    run: Run, address: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = ROOT / "facilities" / "example_scenario.yaml"
    (started,) = run("facilities", str(scenario), "--sharing", "shapley")
    assert started["state"] in ("QUEUED", "RUNNING", "SUCCEEDED")
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws its bar as on a terminal
    monkeypatch.setenv("COLUMNS", "120")
    code = main(
        ["client", "--address", address, "--token", "token-alice",
         "operations", "watch", str(started["name"])]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    (done,) = [json.loads(line) for line in out.splitlines() if line]
    assert done["state"] == "SUCCEEDED"
    assert "100%" in err  # the progress bar, finished
    (also,) = run("facilities", str(scenario), "--watch")
    assert also["state"] == "SUCCEEDED"
    assert [p["name"] for p in also["result"]["scenarios"]] == [
        p["name"] for p in done["result"]["scenarios"]
    ]


def test_dispatch_and_cancel(run: Run) -> None:
    scenario = ROOT / "sip_park_1" / "lp.yaml"
    (done,) = run("dispatch", str(scenario), "--start", "2025-07-14", "--hours", "24", "--wait")
    assert done["state"] == "SUCCEEDED", done["error_message"]
    assert done["result"]["status"] == "DISPATCH_STATUS_OPTIMAL"
    long = ["dispatch", str(scenario), "--start", "2025-01-01", "--hours", "8760"]
    (started,) = run(*long, "--rolling", "24")
    (cancelled,) = run("operations", "cancel", str(started["name"]))
    assert cancelled["name"] == started["name"]
    (final,) = run("wait", str(started["name"]), code=1)  # cancelled: no result
    assert final["state"] == "CANCELLED"
    (other,) = run(*long, "--rolling", "168")
    run("cancel", str(other["name"]))
    (final,) = run("operations", "wait", str(other["name"]), code=1)
    assert final["state"] == "CANCELLED"
    # the scenario's own profiles, or a file given
    (queued,) = run(
        "dispatch", str(scenario), "--profiles", str(ROOT / "sip_park_1" / "profiles_8760.csv"),
        "--start", "2025-07-14", "--hours", "24", "--rolling", "12", "--watch",
    )  # fmt: skip
    assert queued["state"] == "SUCCEEDED"


def test_join_policy_and_audit(
    run: Run, alice: Client, bob: Client, sample: Callable[[str], pa.Table]
) -> None:
    enterprises = sample("enterprises")
    dataset_id = alice.upload(enterprises.slice(0, 100), "theirs", kind="enterprises")
    (policy,) = run(
        "join-policy", "set", dataset_id, "--key-column", "enterprise_id", "--peer", "bob",
        "--mode", "intersection", "--mode", "cardinality", "--quota-per-epoch", "5",
    )  # fmt: skip
    assert policy["allowed_peers"] == ["bob"]
    assert policy["modes"] == ["intersection", "cardinality"]
    (got,) = run("join-policy", "get", dataset_id)
    assert got == policy
    assert run("join-audit", dataset_id) == []
    keys = enterprises.slice(50, 100).column("enterprise_id")
    assert bob.private_join(keys, dataset_id, query=JoinQuery(mode="cardinality")).count == 50
    (entry,) = run("join-audit", dataset_id, "--limit", "5")
    assert entry["peer"] == "bob"
    assert entry["mode"] == "cardinality"
    run("join-policy", "get", "no-such-dataset", code=2)  # NOT_FOUND: the request's fault


def test_mistakes_name_the_file_or_server(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run("upload", str(tmp_path / "nope.parquet"), "--kind", "parks", code=2)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    assert main(["client", "--token", "t", "upload", str(bad), "--kind", "parks"]) == 2
    err = capsys.readouterr().err
    assert "bad.parquet" in err
    assert "not a readable Parquet file" in err
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["client", "--address", f"127.0.0.1:{port}", "--token", "t", "list"]) == 3
    err = capsys.readouterr().err
    assert "error:" in err
    assert "UNAVAILABLE" in err
    assert "Traceback" not in err
    run("describe", "no-such-dataset", code=2)
    run("match", "a", "b", "c", "--k", "0", code=2)
