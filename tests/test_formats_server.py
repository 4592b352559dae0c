"""An operator's mistakes in the server's token file and join-peers file, each refused
with the file, the line and the key before the server starts; tokens never echoed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zone_opt.formats.peers import JoinPeer, load_join_peers
from zone_opt.formats.tokens import load_tokens
from zone_opt.service.transport.auth import load_tokens as served_load_tokens
from zone_opt.service.transport.peers import load_peers

sys.path.insert(0, str(Path(__file__).parent))
from formats_cases import one, problems

SECRET = "s3cr3t-token-value"


def _tail(found: str, name: str) -> str:
    return found[found.index(name) :]


# ---- the token file ---------------------------------------------------------------------


def test_tokens_load_and_the_service_uses_the_same_reader(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(f'{{"{SECRET}": "alice", "other-token": "bob"}}\n', encoding="utf-8")
    assert load_tokens(path, env={}) == {SECRET: "alice", "other-token": "bob"}
    assert served_load_tokens is load_tokens
    assert load_tokens(None, env={"ZONE_OPT_TOKENS": '{"t": "a"}'}) == {"t": "a"}
    assert load_tokens(None, env={}) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{{"{SECRET}": "alice",}}\n', "tokens.json:1: not valid JSON: Expecting property name"),
        (f'["{SECRET}", "alice"]\n', "tokens.json:1: must be a mapping of keys, got a list"),
        ("{}\n", "tokens.json: has no tokens: a server with none would let nobody in"),
        (
            f'{{\n  "{SECRET} extra": "alice"\n}}\n',
            "tokens.json:2: token: must be a token of visible characters (no spaces)",
        ),
        (f'{{\n  "{SECRET}": ""\n}}\n', "tokens.json:2: token: must not be empty"),
        (f'{{\n  "{SECRET}": 7\n}}\n', "tokens.json:2: token: 7 is not text"),
        (
            f'{{\n  "{SECRET}": "a",\n  "{SECRET}": "b"\n}}\n',
            "tokens.json:3: token: repeated key (first on line 2)",
        ),
        ("", "tokens.json:1: not valid JSON: Expecting value"),
    ],
)
def test_token_file_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(text, encoding="utf-8")
    got = one(lambda: load_tokens(path, env={}))
    assert _tail(got, "tokens.json").startswith(expected), got
    assert SECRET not in got


def test_token_variable_and_missing_file(tmp_path: Path) -> None:
    got = one(lambda: load_tokens(None, env={"ZONE_OPT_TOKENS": '{"a b": "alice"}'}))
    assert got == "ZONE_OPT_TOKENS:1: token: must be a token of visible characters (no spaces)"
    got = one(lambda: load_tokens(tmp_path / "nope.json", env={}))
    assert got.endswith("nope.json: cannot read: No such file or directory")


# ---- the join-peers file ----------------------------------------------------------------


@pytest.fixture
def peers_dir(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text("peer-secret\n", encoding="utf-8")
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    return tmp_path


GOOD = """peers:
  tax:
    address: psi.tax.example:443
    ca_file: ca.pem
    token_file: token
    server_name: psi.tax.example
    tenants: [alice]
  local:
    address: 127.0.0.1:50051
    tls: false
"""


def test_peers_file_loads(peers_dir: Path) -> None:
    path = peers_dir / "peers.yaml"
    path.write_text(GOOD, encoding="utf-8")
    peers = load_join_peers(path)
    assert peers["tax"] == JoinPeer(
        name="tax",
        address="psi.tax.example:443",
        tls=True,
        ca_file=peers_dir / "ca.pem",
        server_name="psi.tax.example",
        token="peer-secret",
        tenants=("alice",),
    )
    assert peers["local"] == JoinPeer(name="local", address="127.0.0.1:50051", tls=False)
    assert load_peers(path).names("bob") == ["local"]
    json_path = peers_dir / "peers.json"
    json_path.write_text('{"peers": {"p": {"address": "[::1]:9", "tls": false}}}', encoding="utf-8")
    assert load_join_peers(json_path)["p"].address == "[::1]:9"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    address: psi",
            "    adress: psi",
            "peers.yaml:3: peers.tax.adress: unknown key; did you mean 'address'?",
        ),
        (
            "psi.tax.example:443",
            "psi.tax.example",
            "peers.yaml:3: peers.tax.address: 'psi.tax.example' is not host:port (port 1-65535)",
        ),
        (
            "psi.tax.example:443",
            "psi.tax.example:70000",
            "peers.yaml:3: peers.tax.address: 'psi.tax.example:70000' is not host:port (port "
            "1-65535)",
        ),
        (
            "token_file: token",
            "token_file: tokn",
            "peers.yaml:5: peers.tax.token_file: 'tokn' is not a readable file (relative to "
            "the peers file)",
        ),
        (
            "token_file: token",
            "token_file: empty",
            "peers.yaml:5: peers.tax.token_file: 'empty' is empty (the token is its first line)",
        ),
        (
            "    tls: false",
            "    tls: no way",
            "peers.yaml:10: peers.local.tls: must be true or false, got 'no way'",
        ),
        (
            "127.0.0.1:50051",
            "10.0.0.1:50051",
            "peers.yaml:10: peers.local.tls: false on a non-loopback address needs "
            "allow_plaintext: true",
        ),
        (
            "  local:",
            "  local peer:",
            "peers.yaml:8: peers.local peer: key 'local peer' must be a name of 1-64 letters, "
            "digits, '.', '_' or '-'",
        ),
        (
            "tenants: [alice]",
            "tenants: alice",
            "peers.yaml:7: peers.tax.tenants: must be a list, got 'alice'",
        ),
        ("peers:", "peer:", "peers.yaml:1: peer: unknown key; did you mean 'peers'?"),
        (
            "  tax:\n",
            "  tax: psi.tax.example:443\n  old_tax:\n",
            "peers.yaml:2: peers.tax: must be a mapping of keys, got 'psi.tax.example:443'",
        ),
    ],
)
def test_peers_file_mistakes(peers_dir: Path, old: str, new: str, expected: str) -> None:
    path = peers_dir / "peers.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    found = [_tail(f, "peers.yaml") for f in problems(lambda: load_peers(path))]
    assert expected in found, found
    assert "peer-secret" not in str(found)


def test_peers_whole_file_mistakes(peers_dir: Path) -> None:
    path = peers_dir / "peers.yaml"
    for text, expected in (
        ("", "peers.yaml: is empty: expected a join-peers file, a mapping with the key peers"),
        ("- tax\n", 'peers.yaml:1: must be a mapping of keys, got ["tax"]'),
        ("peers: {tax: \n", "peers.yaml:2: not valid YAML"),
    ):
        path.write_text(text, encoding="utf-8")
        assert _tail(one(lambda: load_peers(path)), "peers.yaml").startswith(expected), text
    assert len(load_peers(None)) == 0
