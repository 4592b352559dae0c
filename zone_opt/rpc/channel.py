"""Channels to a zone-opt server and their TLS settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

__all__ = ["TlsConfig", "open_channel"]


@dataclass(frozen=True)
class TlsConfig:
    """TLS files: the CA to trust (None: system roots), and a client pair for mutual TLS;
    ``server_name``, the identity the server's certificate must carry when it is not the
    host name of the address."""

    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_cert),
            private_key=_read(self.client_key),
            certificate_chain=_read(self.client_cert),
        )


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


def open_channel(
    address: str,
    tls: TlsConfig | bool | None,
    *,
    reconnect_backoff_s: tuple[float, float] | None = None,
    interceptors: Sequence[Any] = (),
) -> grpc.Channel:
    """A channel to ``address``: TLS with ``tls`` (True: the system roots), else plaintext.

    ``reconnect_backoff_s``: ``(initial, max)`` of the channel's own backoff between
    connection attempts once a connection failed (gRPC's defaults are 1 s and 120 s: a
    server that came back would not be seen for up to two minutes, whatever the caller's
    retries). A client that retries UNAVAILABLE sets it to its retry backoff, so that its
    retries reach a server as soon as it is back. ``interceptors``: gRPC client
    interceptors wrapped around the channel, first outermost (tracing, tests).
    """
    options: list[tuple[str, int | str]] = [
        ("grpc.max_receive_message_length", 4 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 60_000),
    ]
    if reconnect_backoff_s is not None:
        initial, most = reconnect_backoff_s
        options += [
            ("grpc.initial_reconnect_backoff_ms", max(1, round(initial * 1000))),
            ("grpc.max_reconnect_backoff_ms", max(1, round(most * 1000))),
        ]
    if tls:
        config = tls if isinstance(tls, TlsConfig) else TlsConfig()
        if config.server_name:
            options.append(("grpc.ssl_target_name_override", config.server_name))
        channel = grpc.secure_channel(address, config.credentials(), options=options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    return grpc.intercept_channel(channel, *interceptors) if interceptors else channel
