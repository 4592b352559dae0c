"""The server's join-peers file (``zone-opt serve --join-peers FILE``): the only servers
``RunJoin`` ever dials, with their TLS settings and the token presented there. YAML or
JSON::

    peers:
      tax-bureau:                         # the name requests use
        address: psi.tax.example:443      # host:port
        tls: true                         # default true
        ca_file: certs/tax-ca.pem         # CA to trust (default: the system roots)
        server_name: psi.tax.example      # identity the peer's certificate must carry
        token_file: secrets/tax-token     # bearer token for the peer (first line)
        tenants: [alice]                  # tenants that may use it (default: all)

Relative paths are relative to the file. A malformed address, a missing or empty file and
a plaintext peer on a non-loopback address without ``allow_plaintext: true`` are errors.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationInfo, model_validator
from pydantic_core import CoreSchema, core_schema

from zone_opt.formats.base import Flag, Format, Model, Text, fail, show
from zone_opt.formats.tokens import Tenant

__all__ = ["PEERS", "JoinPeer", "PeersFile", "load_join_peers"]

_ADDRESS = re.compile(
    r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}))" r":(?P<port>\d{1,5})$"
)


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


class _Address:
    """``host:port`` with a port in 1-65535."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": _ADDRESS.pattern, "examples": ["psi.example:443"]}

    def check(self, value: object) -> str:
        match = _ADDRESS.match(value) if isinstance(value, str) else None
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise fail(f"{show(value)} is not host:port (port 1-65535)")
        return str(value)


class _File:
    """A path relative to the peers file, naming a readable file; ``token``: one whose first
    line is not empty."""

    def __init__(self, *, token: bool = False) -> None:
        self.token = token

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}

    def check(self, value: object, info: ValidationInfo) -> str:
        base = Path((info.context or {}).get("base", "."))
        if not isinstance(value, str) or not value or not (base / value).is_file():
            raise fail(f"{show(value)} is not a readable file (relative to the peers file)")
        if self.token:
            try:
                lines = (base / value).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise fail(f"{show(value)} cannot be read: {exc}") from None
            if not lines or not lines[0].strip():
                raise fail(f"{show(value)} is empty (the token is its first line)")
        return value


PeerName = Annotated[
    str,
    Text(
        max_length=64,
        numbers=False,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        rule="a name of 1-64 letters, digits, '.', '_' or '-'",
    ),
]


class PeerEntry(Model):
    """One peer server."""

    address: Annotated[str, _Address()]
    """host:port of the peer."""
    tls: Flag = True
    """Connect with TLS."""
    ca_file: Annotated[str, _File()] | None = None
    """CA certificate to trust (PEM; default: the system roots)."""
    server_name: Annotated[str, Text(max_length=253, numbers=False)] | None = None
    """Identity the peer's certificate must carry."""
    token_file: Annotated[str, _File(token=True)] | None = None
    """File whose first line is the bearer token for the peer."""
    tenants: tuple[Tenant, ...] = ()
    """Tenants that may use the peer (default: all)."""
    allow_plaintext: Flag = False
    """Allow tls: false on a non-loopback address."""

    @model_validator(mode="after")
    def _plaintext(self) -> PeerEntry:
        host = self.address.rsplit(":", 1)[0]
        if not self.tls and not self.allow_plaintext and not _loopback(host):
            raise fail("false on a non-loopback address needs allow_plaintext: true", "tls")
        return self


class PeersFile(Model):
    """The private-join peers a server may dial."""

    peers: dict[PeerName, PeerEntry] | None = None
    """Each peer by the name requests use."""


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The join-peers format.
PEERS: Format[PeersFile] = Format(
    name="join-peers",
    model=PeersFile,
    title="join-peers file, a mapping with the key peers",
    label="peers file",
)


def load_join_peers(path: Path) -> dict[str, JoinPeer]:
    """The peers of the file at ``path`` (see the module docstring), by name.

    Raises:
        InvalidInputError: naming the file, the line, the peer and the key of every
            problem.
    """
    model, _ = PEERS.load(path, context={"base": path.parent})
    peers: dict[str, JoinPeer] = {}
    for name, entry in (model.peers or {}).items():
        token = None
        if entry.token_file is not None:
            lines = (path.parent / entry.token_file).read_text(encoding="utf-8").splitlines()
            token = lines[0].strip()
        peers[name] = JoinPeer(
            name=name,
            address=entry.address,
            tls=entry.tls,
            ca_file=None if entry.ca_file is None else path.parent / entry.ca_file,
            server_name=entry.server_name,
            token=token,
            tenants=tuple(entry.tenants),
        )
    return peers
