"""``zone-opt client``: every action against a real server, checked with the typed client."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from zone_opt.cli import build_parser, main
from zone_opt.cli.client import ACTIONS
from zone_opt.client import Client
from zone_opt.datasets import SAMPLE_DIR
from zone_opt.service.server import Server


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_action_has_a_handler() -> None:
    client = _subcommands(build_parser())["client"]
    assert set(_subcommands(client)) == set(ACTIONS)


def test_actions_through_a_server(
    server: tuple[Server, int], alice: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["client", "--address", f"127.0.0.1:{server[1]}", "--token", "token-alice"]

    def run(*argv: str) -> list[object]:
        assert main([*base, *argv]) == 0
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]

    ids = {}
    for table in ("spaces", "enterprises", "parks", "tenancies"):
        (out,) = run("upload", str(SAMPLE_DIR / f"{table}.parquet"), "--kind", table)
        ids[table] = out["dataset_id"]  # type: ignore[index]
    listed = {d["dataset_id"] for d in run("list")}  # type: ignore[index]
    assert listed == set(ids.values())
    (described,) = run("describe", ids["parks"])
    assert described["kind"] == "parks"  # type: ignore[index]
    run("download", ids["parks"], str(tmp_path / "parks.parquet"))
    assert pq.read_table(tmp_path / "parks.parquet").equals(alice.download(ids["parks"]))
    (stats,) = run("stats", ids["parks"], "--wait")
    assert stats["state"] == "SUCCEEDED"  # type: ignore[index]
    (matched,) = run(
        "match", ids["spaces"], ids["enterprises"], ids["parks"],
        "--tenancies-id", ids["tenancies"], "--mode", "stable", "--k", "8", "--wait",
    )  # fmt: skip
    assert matched["state"] == "SUCCEEDED"  # type: ignore[index]
    assert matched["result"]["statistics"]["mode"] == "MATCH_MODE_STABLE"  # type: ignore[index]
    ops = run("operations")
    assert {o["name"] for o in ops} >= {stats["name"], matched["name"]}  # type: ignore[index]
    (again,) = run("wait", matched["name"])  # type: ignore[index]
    assert again["state"] == "SUCCEEDED"  # type: ignore[index]
    (op,) = run("operation", stats["name"])  # type: ignore[index]
    assert op["name"] == stats["name"]  # type: ignore[index]
    recommended = run("recommend", "--k", "2")
    assert 0 < len(recommended) <= 20
    assert all(r["rank"] in (1, 2) for r in recommended)  # type: ignore[index]
    run("delete", ids["parks"])
    assert ids["parks"] not in {d.dataset_id for d in alice.list()}
