"""Private-join peers the operator registered: the only servers ``RunJoin`` ever dials.

A ``RunJoin`` request names a peer (``RunJoinRequest.peer``); the address, the TLS settings
(trust anchor and expected identity) and the token this server presents there come from
the operator's peers file (``zone-opt serve --join-peers FILE``), never from a request, so a
caller cannot make the server connect anywhere else (server-side request forgery). The
file's format, and every check of it, is :mod:`zone_opt.formats.peers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from zone_opt.errors import InvalidInputError
from zone_opt.formats.peers import JoinPeer, load_join_peers

__all__ = ["JoinPeer", "PeerRegistry", "load_peers"]


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
    """The registry in ``path`` (YAML or JSON, :mod:`zone_opt.formats.peers`); empty for
    None.

    Raises:
        InvalidInputError: naming the file, the line, the peer and the key for every problem.
    """
    return PeerRegistry(load_join_peers(path)) if path is not None else PeerRegistry()
