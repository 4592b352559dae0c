"""The gRPC API reference (``reference/grpc.md``), generated from the ``.proto`` sources.

protoc (``grpc_tools``, in a child process: its bundled libprotobuf must not share a process
with another one, such as OR-Tools') compiles ``grpc/zone_opt/api/v1/*.proto`` into a
``FileDescriptorSet`` with source info, so every service, RPC, message, field, enum and
enum value comes with the comment written above it (or after it, on its line). Run at
every docs build by ``docs/gen/hooks.py``, so the page is never older than the protos;
``python docs/gen/proto_reference.py`` prints it.
"""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import google.rpc
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "grpc"
PACKAGE_DIR = PROTO_ROOT / "zone_opt" / "api" / "v1"

FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    getattr(FDP, name): name.removeprefix("TYPE_").lower()
    for name in FDP.Type.keys()  # noqa: SIM118 (a protobuf enum wrapper, not a dict)
    if name not in ("TYPE_MESSAGE", "TYPE_ENUM", "TYPE_GROUP")
}
# Paths in SourceCodeInfo: field numbers of FileDescriptorProto / DescriptorProto / ...
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _NESTED, _NESTED_ENUM = 2, 3, 4
_VALUE, _METHOD = 2, 2


@dataclass(frozen=True)
class _Comments:
    """Comments by source path (a tuple of field numbers and indices)."""

    by_path: dict[tuple[int, ...], str]

    def of(self, *path: int) -> str:
        return self.by_path.get(path, "")


def compile_protos(sources: list[Path] | None = None) -> descriptor_pb2.FileDescriptorSet:
    """The descriptor set of ``sources`` (default: every ``.proto`` of the API) with their
    comments."""
    files = sources or sorted(PACKAGE_DIR.glob("*.proto"))
    well_known = Path(str(importlib.resources.files("grpc_tools") / "_proto"))  # not imported
    googleapis = Path(next(iter(google.rpc.__path__))).parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.pb"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_ROOT}",
                f"-I{well_known}",
                f"-I{googleapis}",
                "--include_source_info",
                f"--descriptor_set_out={out}",
                *(str(f.relative_to(PROTO_ROOT)) for f in files),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"protoc failed on {PACKAGE_DIR}: {done.stderr.strip()}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _comments(proto: descriptor_pb2.FileDescriptorProto) -> _Comments:
    found: dict[tuple[int, ...], str] = {}
    for loc in proto.source_code_info.location:
        text = " ".join(
            part.strip()
            for part in (loc.leading_comments, loc.trailing_comments)
            if part and part.strip()
        )
        if text:
            found[tuple(loc.path)] = " ".join(line.strip() for line in text.splitlines())
    return _Comments(found)


def _type_name(field: descriptor_pb2.FieldDescriptorProto, package: str) -> str:
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        name = field.type_name.lstrip(".")
        local = name.removeprefix(package + ".")
        return f"[`{local}`](#{_anchor(local)})" if local != name else f"`{name}`"
    return f"`{_SCALARS[field.type]}`"


def _anchor(name: str) -> str:
    return name.lower().replace(".", "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or " "


def _service(
    service: descriptor_pb2.ServiceDescriptorProto, index: int, notes: _Comments, package: str
) -> Iterator[str]:
    deprecated = " (deprecated)" if service.options.deprecated else ""
    yield f"### `{service.name}`{deprecated}\n"
    if text := notes.of(_SERVICE, index):
        yield f"{text}\n"
    yield "| RPC | request | response | what it does |"
    yield "|---|---|---|---|"
    for i, method in enumerate(service.method):
        stream_in = "stream " if method.client_streaming else ""
        stream_out = "stream " if method.server_streaming else ""
        request = method.input_type.lstrip(".").removeprefix(package + ".")
        response = method.output_type.lstrip(".").removeprefix(package + ".")
        yield (
            f"| `{method.name}` | {stream_in}[`{request}`](#{_anchor(request)}) | "
            f"{stream_out}[`{response}`](#{_anchor(response)}) | "
            f"{_cell(notes.of(_SERVICE, index, _METHOD, i))} |"
        )
    yield ""


def _message(
    message: descriptor_pb2.DescriptorProto,
    path: tuple[int, ...],
    notes: _Comments,
    package: str,
    prefix: str = "",
) -> Iterator[str]:
    name = f"{prefix}{message.name}"
    if message.options.map_entry:
        return
    yield f"### `{name}` {{#{_anchor(name)}}}\n"
    if text := notes.of(*path):
        yield f"{text}\n"
    if message.field:
        yield "| field | number | type | notes |"
        yield "|---|---|---|---|"
        nested = {f"{n.name}": n for n in message.nested_type}
        for i, field in enumerate(message.field):
            entry = nested.get(field.type_name.rsplit(".", 1)[-1])
            if entry is not None and entry.options.map_entry:
                key, value = entry.field
                kind = f"map<{_type_name(key, package)}, {_type_name(value, package)}>"
            else:
                kind = _type_name(field, package)
                if field.label == FDP.LABEL_REPEATED:
                    kind = f"repeated {kind}"
            note = notes.of(*path, _FIELD, i)
            if field.options.deprecated:
                note = f"**Deprecated.** {note}"
            if field.HasField("oneof_index") and not field.proto3_optional:
                note = f"oneof `{message.oneof_decl[field.oneof_index].name}`. {note}"
            yield f"| `{field.name}` | {field.number} | {kind} | {_cell(note.strip())} |"
        yield ""
    else:
        yield "No fields.\n"
    for i, enum in enumerate(message.enum_type):
        yield from _enum(enum, (*path, _NESTED_ENUM, i), notes, f"{name}.")
    for i, inner in enumerate(message.nested_type):
        yield from _message(inner, (*path, _NESTED, i), notes, package, f"{name}.")


def _enum(
    enum: descriptor_pb2.EnumDescriptorProto,
    path: tuple[int, ...],
    notes: _Comments,
    prefix: str = "",
) -> Iterator[str]:
    name = f"{prefix}{enum.name}"
    yield f"### `{name}` {{#{_anchor(name)}}}\n"
    if text := notes.of(*path):
        yield f"{text}\n"
    yield "| value | number | notes |"
    yield "|---|---|---|"
    for i, value in enumerate(enum.value):
        yield f"| `{value.name}` | {value.number} | {_cell(notes.of(*path, _VALUE, i))} |"
    yield ""


def _file(proto: descriptor_pb2.FileDescriptorProto) -> Iterator[str]:
    notes = _comments(proto)
    title = Path(proto.name).name
    deprecated = " (deprecated)" if proto.options.deprecated else ""
    yield f"## `{title}`{deprecated} {{#{_anchor(title)}}}\n"
    # The comment at the top of the file is attached to the `syntax` statement (path 12).
    if text := notes.of(12):
        yield f"{text}\n"
    for i, service in enumerate(proto.service):
        yield from _service(service, i, notes, proto.package)
    for i, message in enumerate(proto.message_type):
        yield from _message(message, (_MESSAGE, i), notes, proto.package)
    for i, enum in enumerate(proto.enum_type):
        yield from _enum(enum, (_ENUM, i), notes)


def render(descriptors: descriptor_pb2.FileDescriptorSet | None = None) -> str:
    """The Markdown page of the API in ``descriptors`` (default: compiled now)."""
    found = descriptors or compile_protos()
    ours = sorted((f for f in found.file if f.name.startswith("zone_opt/")), key=lambda f: f.name)
    lines = [
        "# gRPC API reference (`zone_opt.api.v1`)\n",
        "Generated from `grpc/zone_opt/api/v1/*.proto` and their comments at every docs "
        "build (`docs/gen/proto_reference.py`). Compatibility rules, renamed services and "
        "error semantics: `grpc/README.md`; status codes and retries: "
        "[the platform backend guide](../getting-started/platform-backend.md).\n",
        "| file | services |",
        "|---|---|",
    ]
    for proto in ours:
        services = ", ".join(f"`{s.name}`" for s in proto.service) or "messages only"
        lines.append(
            f"| [`{Path(proto.name).name}`](#{_anchor(Path(proto.name).name)}) | {services} |"
        )
    lines.append("")
    for proto in ours:
        lines.extend(_file(proto))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
