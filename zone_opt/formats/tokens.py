"""The server's token file (``zone-opt serve --tokens FILE``, or ``ZONE_OPT_TOKENS``): a JSON
object mapping each bearer token to its tenant, ``{"<token>": "<tenant>"}``.

Tokens are secrets: a problem with one names it as ``token`` and its line, never its text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, RootModel, model_validator

from zone_opt.formats.base import Format, Text, fail

__all__ = ["ENV", "TOKENS", "Tenant", "TokenFile", "load_tokens"]

#: The environment variable that may hold the same JSON.
ENV = "ZONE_OPT_TOKENS"

Token = Annotated[
    str,
    Text(
        max_length=4096,
        numbers=False,
        secret=True,
        pattern=r"^\S+$",
        rule="a token of visible characters (no spaces)",
    ),
]
#: A tenant name: 1-128 characters, no control characters.
Tenant = Annotated[
    str,
    Text(
        max_length=128,
        numbers=False,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        rule="a tenant name without control characters",
    ),
]


class TokenFile(RootModel[dict[Token, Tenant]]):
    """Bearer tokens and the tenant each one authenticates (at least one)."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def _not_empty(self) -> TokenFile:
        if not self.root:
            raise fail("has no tokens: a server with none would let nobody in")
        return self


#: The token file format.
TOKENS: Format[TokenFile] = Format(
    name="tokens",
    model=TokenFile,
    title='token file, a JSON object {"<token>": "<tenant>"}',
    label="tokens",
    secret_keys=True,
)


def load_tokens(path: Path | None, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``{token: tenant}`` from the JSON file ``path``, else from ``ZONE_OPT_TOKENS``, else
    empty.

    Raises:
        InvalidInputError: naming the file (or the variable), the line and the problem; a
            token's text is never repeated.
    """
    if path is not None:
        model, _ = TOKENS.parse_json(TOKENS.read(path), str(path))
    elif env.get(ENV):
        model, _ = TOKENS.parse_json(env[ENV], ENV)
    else:
        return {}
    return dict(model.root)
