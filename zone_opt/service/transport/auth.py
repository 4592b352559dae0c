"""Bearer tokens mapped to tenants.

Tokens come from a JSON file ``{token: tenant}`` (``--tokens FILE``) or the environment
variable ``ZONE_OPT_TOKENS`` holding the same JSON, read and checked by
:func:`zone_opt.formats.tokens.load_tokens` (re-exported here). They are kept only as
SHA-256 digests, and a presented token is hashed and compared against each digest with
:func:`hmac.compare_digest` (constant time), so neither the lookup nor the comparison
leaks a token through timing. Health and reflection are the only methods callable
without a token (:data:`PUBLIC_SERVICES`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

import grpc

from zone_opt.errors import UnauthenticatedError
from zone_opt.formats.tokens import load_tokens

__all__ = ["PUBLIC_SERVICES", "TokenAuth", "load_tokens"]

#: Services any caller may use without a token.
PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class TokenAuth:
    """Resolves the bearer token of a call to its tenant."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._digests = [
            (hashlib.sha256(t.encode()).digest(), tenant) for t, tenant in tokens.items()
        ]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def tenant_of_metadata(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> str:
        """The tenant of ``authorization: Bearer <token>``; UnauthenticatedError otherwise."""
        header = ""
        for key, value in metadata or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
                break
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("missing bearer token (metadata 'authorization')")
        digest = hashlib.sha256(token.strip().encode()).digest()
        found = ""
        for known, tenant in self._digests:  # every digest compared: constant time
            if hmac.compare_digest(known, digest):
                found = tenant
        if not found:
            raise UnauthenticatedError("invalid bearer token")
        return found

    def tenant(self, context: grpc.ServicerContext) -> str:
        """The calling tenant (the interceptor has already rejected bad tokens)."""
        return self.tenant_of_metadata(context.invocation_metadata())
