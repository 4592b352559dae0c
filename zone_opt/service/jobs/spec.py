"""What every long-running operation is: a kind, typed params, a handler, a typed result.

An :class:`OperationSpec` ties them together for one capability (one module of this
package each). The request becomes the params (``Params.from_request``, which validates it:
INVALID_ARGUMENT naming the field); the job store persists the params in one versioned
encoding (:meth:`OperationSpec.encode_params`: the dataclass's fields and
``"version"``); the handler receives the decoded params and returns the result proto,
persisted as its JSON mapping with a version (:meth:`OperationSpec.encode_result`) and
packed as it is into ``Operation.response`` (AIP-151). The runner runs any spec it is
given; nothing dispatches on the kind string but the one registry of specs,
:data:`zone_opt.service.operations.OPERATIONS`.

Jobs recorded by a server from before this encoding (params and results without a
``"version"``) are read by each operation's ``legacy_params`` / ``legacy_result``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

if TYPE_CHECKING:
    from zone_opt.service.jobs.runner import JobContext

__all__ = ["PARAMS_VERSION", "RESULT_VERSION", "OperationSpec", "Params"]

#: Version of the persisted params and results; bump with a reader for the old one.
PARAMS_VERSION = 1
RESULT_VERSION = 1


class Params(Protocol):
    """Params of an operation: a frozen dataclass of JSON-safe fields."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def time_limit_s(self) -> float | None:
        """The work's time limit (``JobContext.deadline``); None for none."""


P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Message)


@dataclass(frozen=True)
class OperationSpec(Generic[P, R]):
    """One operation kind (see the module docstring)."""

    kind: str
    params_type: type[P]
    result_type: type[R]
    run: Callable[[JobContext, P], R]
    legacy_params: Callable[[Mapping[str, Any]], P]
    legacy_result: Callable[[Mapping[str, Any]], R]

    def encode_params(self, params: P) -> dict[str, Any]:
        """The params as the job store keeps them (JSON-safe, versioned)."""
        return {"version": PARAMS_VERSION, **dataclasses.asdict(params)}

    def decode_params(self, raw: Mapping[str, Any]) -> P:
        """The params of a stored job (either encoding)."""
        if raw.get("version") != PARAMS_VERSION:
            return self.legacy_params(raw)
        fields = {k: v for k, v in raw.items() if k != "version"}
        return self.params_type(**fields)

    def encode_result(self, result: R) -> dict[str, Any]:
        """The result as the job store keeps it: the proto's JSON mapping, versioned."""
        message = json_format.MessageToDict(result, preserving_proto_field_name=True)
        return {"version": RESULT_VERSION, "message": message}

    def decode_result(self, raw: Mapping[str, Any]) -> R:
        """The result proto of a stored job (either encoding)."""
        if raw.get("version") != RESULT_VERSION:
            return self.legacy_result(raw)
        return json_format.ParseDict(raw["message"], self.result_type())
