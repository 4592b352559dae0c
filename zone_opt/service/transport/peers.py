"""Private-join peers the operator registered: the only servers ``RunJoin`` ever dials.

A ``RunJoin`` request names a peer (``RunJoinRequest.peer``); the address, the TLS settings
(trust anchor and expected identity) and the token this server presents there come from
the operator's peers file (``zone-opt serve --join-peers FILE``), never from a request, so a
caller cannot make the server connect anywhere else (server-side request forgery). The file
(YAML or JSON)::

    peers:
      tax-bureau:                         # the name requests use
        address: psi.tax.example:443      # host:port
        tls: true                         # default true
        ca_file: certs/tax-ca.pem         # CA to trust (default: the system roots)
        server_name: psi.tax.example      # identity the peer's certificate must carry
        token_file: secrets/tax-token     # bearer token for the peer (first line)
        tenants: [alice]                  # tenants that may use it (default: all)

Relative paths are relative to the file. Every key is checked: an unknown one is an error
naming it, as are a malformed address, a missing file and a plaintext peer on a public
address unless ``allow_plaintext: true`` says so.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zone_opt.errors import InvalidInputError

__all__ = ["JoinPeer", "PeerRegistry", "load_peers"]

_ADDRESS = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))" r":(?P<port>\d{1,5})$"
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEYS = {
    "address",
    "tls",
    "ca_file",
    "server_name",
    "token_file",
    "tenants",
    "allow_plaintext",
}


@dataclass(frozen=True)
class JoinPeer:
    """A registered peer server (see the module docstring)."""

    name: str
    address: str
    tls: bool = True
    ca_file: Path | None = None
    server_name: str | None = None
    token: str | None = field(default=None, repr=False)
    tenants: tuple[str, ...] = ()

    def allows(self, tenant: str) -> bool:
        """Whether ``tenant`` may run joins against this peer."""
        return not self.tenants or tenant in self.tenants


class PeerRegistry:
    """The peers of a server, by name; looked up per tenant."""

    def __init__(self, peers: Mapping[str, JoinPeer] | None = None) -> None:
        self._peers = dict(peers or {})

    def names(self, tenant: str) -> list[str]:
        """The peers ``tenant`` may use, sorted."""
        return sorted(n for n, p in self._peers.items() if p.allows(tenant))

    def get(self, tenant: str, name: str) -> JoinPeer:
        """The peer ``name`` if ``tenant`` may use it.

        Raises:
            InvalidInputError: no peer of that name is registered for ``tenant`` (the same
                answer whether it does not exist or belongs to other tenants).
        """
        peer = self._peers.get(name)
        if peer is None or not peer.allows(tenant):
            known = ", ".join(self.names(tenant)) or "none"
            shown = name if len(name) <= 64 else f"{name[:64]}..."
            raise InvalidInputError.single(
                "peer", None, f"no join peer {shown!r} is registered (yours: {known})"
            )
        return peer

    def __len__(self) -> int:
        return len(self._peers)


def load_peers(path: Path | None) -> PeerRegistry:
    """The registry in ``path`` (YAML or JSON, see the module docstring); empty for None.

    Raises:
        InvalidInputError: naming the file, the peer and the key for every problem.
    """
    if path is None:
        return PeerRegistry()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError.single(where, None, f"cannot read: {exc}") from None
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInputError.single(where, None, f"not YAML/JSON: {exc}") from None
    if not isinstance(raw, dict) or set(raw) - {"peers"}:
        raise InvalidInputError.single(where, None, "must be a mapping with one key, 'peers'")
    entries = raw.get("peers") or {}
    if not isinstance(entries, dict):
        raise InvalidInputError.single(f"{where}: peers", None, "must map peer names to settings")
    violations: list[tuple[str, int | None, str]] = []
    peers: dict[str, JoinPeer] = {}
    for name, entry in entries.items():
        prefix = f"{where}: peers.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            violations.append((prefix, None, "a name of 1-64 letters, digits, '.', '_' or '-'"))
            continue
        try:
            peers[name] = _peer(name, entry, path.parent, prefix)
        except InvalidInputError as exc:
            violations += [(v.field, v.row, v.reason) for v in exc.violations]
    if violations:
        raise InvalidInputError(None, violations)
    return PeerRegistry(peers)


def _peer(name: str, entry: Any, base: Path, prefix: str) -> JoinPeer:
    if not isinstance(entry, dict):
        raise InvalidInputError.single(prefix, None, "must be a mapping of settings")
    problems: list[tuple[str, int | None, str]] = []
    for key in sorted(set(entry) - _KEYS):
        problems.append(
            (f"{prefix}.{key}", None, f"unknown key; known: {', '.join(sorted(_KEYS))}")
        )
    address = entry.get("address")
    match = _ADDRESS.match(address) if isinstance(address, str) else None
    if match is None or not 1 <= int(match["port"]) <= 65535:
        problems.append((f"{prefix}.address", None, f"{address!r} is not host:port"))
    tls = entry.get("tls", True)
    plaintext_ok = entry.get("allow_plaintext", False)
    for key, value in (("tls", tls), ("allow_plaintext", plaintext_ok)):
        if not isinstance(value, bool):
            problems.append((f"{prefix}.{key}", None, f"must be true or false, got {value!r}"))
    if (
        match is not None
        and tls is False
        and plaintext_ok is not True
        and not _local(match["host"])
    ):
        problems.append(
            (f"{prefix}.tls", None, "false on a non-loopback address needs allow_plaintext: true")
        )
    paths: dict[str, Path | None] = {}
    for key in ("ca_file", "token_file"):
        value = entry.get(key)
        if value is None:
            paths[key] = None
        elif not isinstance(value, str) or not (base / value).is_file():
            problems.append((f"{prefix}.{key}", None, f"{value!r} is not a readable file"))
        else:
            paths[key] = base / value
    server_name = entry.get("server_name")
    if server_name is not None and not (isinstance(server_name, str) and server_name):
        problems.append((f"{prefix}.server_name", None, "must be a host name"))
    tenants = entry.get("tenants", [])
    if not isinstance(tenants, list) or not all(isinstance(t, str) and t for t in tenants):
        problems.append((f"{prefix}.tenants", None, "must be a list of tenant names"))
    if problems:
        raise InvalidInputError(None, problems)
    token = None
    if paths["token_file"] is not None:
        lines = paths["token_file"].read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise InvalidInputError.single(f"{prefix}.token_file", None, "is empty")
    return JoinPeer(
        name=name,
        address=str(address),
        tls=bool(tls),
        ca_file=paths["ca_file"],
        server_name=server_name,
        token=token,
        tenants=tuple(tenants),
    )


def _local(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
