"""The typed results of long-running operations, as a client unpacks them."""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from zone_opt.api.v1 import carbon_pb2, datasets_pb2, dispatch_pb2, facilities_pb2, matching_pb2
from zone_opt.errors import ServiceError

__all__ = ["RESULT_TYPES", "to_python", "unpack_result"]

#: Every result message an operation may carry, by its full proto name.
RESULT_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        datasets_pb2.ComputeStatisticsResult,
        matching_pb2.MatchResult,
        carbon_pb2.AllocateCarbonResult,
        facilities_pb2.PlanFacilitiesResult,
        dispatch_pb2.DispatchResult,
    )
}


def unpack_result(packed: any_pb2.Any) -> Message:
    """The typed message in an ``Operation.response``.

    Raises:
        ServiceError: a result type this client does not know (a newer server).
    """
    cls = RESULT_TYPES.get(packed.TypeName())
    if cls is None:
        raise ServiceError(f"unknown operation result type {packed.TypeName()!r}")
    message = cls()
    packed.Unpack(message)
    return message


def to_python(message: Message) -> dict[str, Any]:
    """``message`` as plain Python values for printing (JSON): every field, set or not;
    ints stay ints (protobuf's JSON mapping would quote 64-bit ones), enums become their
    names, bytes hex, maps dicts and repeated fields lists."""

    def value(fd: Any, v: Any) -> Any:
        if fd.message_type is not None:
            return to_python(v)
        if fd.enum_type is not None:
            known = fd.enum_type.values_by_number.get(v)
            return known.name if known is not None else v
        if fd.type == FieldDescriptor.TYPE_BYTES:
            return bytes(v).hex()
        return v

    out: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        v = getattr(message, fd.name)
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value_fd = fd.message_type.fields_by_name["value"]
            out[fd.name] = {k: value(value_fd, item) for k, item in v.items()}
        elif fd.is_repeated:
            out[fd.name] = [value(fd, item) for item in v]
        elif fd.message_type is not None and not message.HasField(fd.name):
            out[fd.name] = None
        else:
            out[fd.name] = value(fd, v)
    return out
