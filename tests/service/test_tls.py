"""TLS and mutual TLS from certificate files (made with the openssl CLI), and bind rules."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zone_opt.client import Client
from zone_opt.errors import InvalidInputError, ServiceError
from zone_opt.rpc.channel import TlsConfig
from zone_opt.service.server import Server, ServerSettings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    _run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        cwd=d,
    )
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        _run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.cnf",
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    return d


@pytest.fixture
def tls_port(
    tmp_path: Path, certs: Path, start: Callable[..., tuple[Server, int]]
) -> Iterator[int]:
    server, port = start(
        tmp_path / "d", tls_cert=certs / "server.pem", tls_key=certs / "server.key"
    )
    yield port
    server.stop(0.5)


@pytest.fixture
def mtls_port(
    tmp_path: Path, certs: Path, start: Callable[..., tuple[Server, int]]
) -> Iterator[int]:
    server, port = start(
        tmp_path / "d",
        tls_cert=certs / "server.pem",
        tls_key=certs / "server.key",
        tls_client_ca=certs / "ca.pem",
    )
    yield port
    server.stop(0.5)


def test_plaintext_client_fails_against_tls_server(tls_port: int, certs: Path) -> None:
    with Client(f"127.0.0.1:{tls_port}", token="token-alice", timeout_s=3) as plain:
        with pytest.raises(ServiceError) as err:
            plain.list()
        assert err.value.status_code == "UNAVAILABLE"
    with Client(
        f"127.0.0.1:{tls_port}", token="token-alice", tls=TlsConfig(ca_cert=certs / "ca.pem")
    ) as secure:
        assert secure.list() == []


def test_mtls_refuses_a_client_without_certificate(mtls_port: int, certs: Path) -> None:
    no_cert = TlsConfig(ca_cert=certs / "ca.pem")
    with Client(f"127.0.0.1:{mtls_port}", token="token-alice", tls=no_cert, timeout_s=3) as c:
        with pytest.raises(ServiceError) as err:
            c.list()
        assert err.value.status_code == "UNAVAILABLE"
    with_cert = TlsConfig(certs / "ca.pem", certs / "client.pem", certs / "client.key")
    with Client(f"127.0.0.1:{mtls_port}", token="token-alice", tls=with_cert) as c:
        assert c.list() == []


def test_public_address_needs_tls_and_tokens_unless_insecure(tmp_path: Path, certs: Path) -> None:
    with pytest.raises(InvalidInputError) as err:
        ServerSettings(data_dir=tmp_path, host="0.0.0.0", tokens={"t": "a"}).check()
    assert err.value.violations[0].field == "host"
    with pytest.raises(InvalidInputError):
        ServerSettings(
            data_dir=tmp_path,
            host="0.0.0.0",
            tls_cert=certs / "server.pem",
            tls_key=certs / "server.key",
        ).check()
    ServerSettings(data_dir=tmp_path, host="0.0.0.0", insecure=True).check()
    ServerSettings(
        data_dir=tmp_path,
        host="0.0.0.0",
        tokens={"t": "a"},
        tls_cert=certs / "server.pem",
        tls_key=certs / "server.key",
    ).check()
    ServerSettings(data_dir=tmp_path, host="127.0.0.1").check()
