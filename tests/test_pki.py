"""``vagus.pki`` against independent verifiers: the openssl command (``openssl verify`` with the TLS
purposes, ``openssl x509 -text``) and real TLS handshakes — Debian's mosquitto serving the compose
stack's config with the server certificate, and Python's ssl module for client certificates."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from tests.deploy_broker import compose_mosquitto
from tests.servers import require_binary
from vagus.mosquitto_auth import password_line
from vagus.pki import make_ca, make_leaf

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca() -> tuple[bytes, bytes]:
    return make_ca("vagus test CA")


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = require_binary("openssl", "openssl")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603 — a fixed argv of our own, no shell


def write(root: Path, **files: bytes) -> None:
    for name, data in files.items():
        (root / name.replace("_", ".")).write_bytes(data)


def test_openssl_accepts_a_server_certificate_for_tls_servers_only(tmp_path, ca):
    cert, key = make_leaf(*ca, "mosquitto", dns_names=["mosquitto", "localhost"], ip_addresses=["127.0.0.1"])
    write(tmp_path, ca_crt=ca[0], server_crt=cert, server_key=key)
    ok = openssl("verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "server.crt", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    wrong = openssl("verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "server.crt", cwd=tmp_path)
    assert wrong.returncode != 0
    text = openssl("x509", "-in", "server.crt", "-noout", "-text", cwd=tmp_path).stdout
    assert "DNS:mosquitto" in text and "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    assert "CA:FALSE" in text
    # The key matches the certificate: openssl derives the same public key from both.
    pub_cert = openssl("x509", "-in", "server.crt", "-noout", "-pubkey", cwd=tmp_path).stdout
    pub_key = openssl("pkey", "-in", "server.key", "-pubout", cwd=tmp_path).stdout
    assert pub_cert == pub_key and "BEGIN PUBLIC KEY" in pub_key


def test_the_ca_is_a_ca_that_signs_only_leaves(tmp_path, ca):
    write(tmp_path, ca_crt=ca[0])
    text = openssl("x509", "-in", "ca.crt", "-noout", "-text", cwd=tmp_path).stdout
    assert "CA:TRUE, pathlen:0" in text
    assert "Certificate Sign, CRL Sign" in text
    assert openssl("verify", "-CAfile", "ca.crt", "ca.crt", cwd=tmp_path).returncode == 0
    # A leaf's key cannot stand in for the CA's: the issuer key must match the CA certificate.
    _, leaf_key = make_leaf(*ca, "client", client=True)
    with pytest.raises(ValueError, match="does not belong"):
        make_leaf(ca[0], leaf_key, "x", dns_names=["x"])


def test_a_client_certificate_verifies_for_clients_and_a_foreign_ca_does_not(tmp_path, ca):
    cert, _ = make_leaf(*ca, "alice", client=True)
    other_ca, _ = make_ca("someone else")
    write(tmp_path, ca_crt=ca[0], other_crt=other_ca, alice_crt=cert)
    assert openssl("verify", "-CAfile", "ca.crt", "-purpose", "sslclient", "alice.crt", cwd=tmp_path).returncode == 0
    assert openssl("verify", "-CAfile", "other.crt", "alice.crt", cwd=tmp_path).returncode != 0


def test_a_real_tls_handshake_with_mosquitto_checks_names_and_ca(tmp_path, ca):
    cert, key = make_leaf(*ca, "mosquitto", dns_names=["mosquitto", "localhost"])
    passwd = password_line("vagus-health", "pw") + "\n"
    with compose_mosquitto(passwd=passwd, acl="", certs={"ca.crt": ca[0], "server.crt": cert, "server.key": key}) as b:
        (tmp_path / "ca.crt").write_bytes(ca[0])

        def handshake(hostname: str, cafile: Path) -> dict:
            context = ssl.create_default_context(cafile=str(cafile))
            with (
                socket.create_connection(("127.0.0.1", b.port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=hostname) as tls,
            ):
                return tls.getpeercert()

        for name in ("localhost", "mosquitto"):
            peer = handshake(name, tmp_path / "ca.crt")
            assert ("DNS", name) in peer["subjectAltName"]
        with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
            handshake("evil.example", tmp_path / "ca.crt")
        (tmp_path / "other.crt").write_bytes(make_ca("someone else")[0])
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            handshake("localhost", tmp_path / "other.crt")


def test_a_client_certificate_passes_a_server_that_requires_one(tmp_path, ca):
    server_cert, server_key = make_leaf(*ca, "server", ip_addresses=["127.0.0.1"])
    client_cert, client_key = make_leaf(*ca, "alice", client=True)
    write(tmp_path, ca_crt=ca[0], s_crt=server_cert, s_key=server_key, c_crt=client_cert, c_key=client_key)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    server_ctx.load_verify_locations(tmp_path / "ca.crt")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    seen: list[object] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    seen.append(dict(x[0] for x in tls.getpeercert()["subject"])["commonName"])
            except ssl.SSLError as exc:
                seen.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        client_ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.recv(1)  # wait for the server to finish (it closes)
        thread.join(5)
    assert seen == ["alice"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dns_names": ["ok"], "ip_addresses": ["999.1.1.1"]}, "not an IP address"),
        ({}, "at least one DNS name"),
        ({"dns_names": "localhost"}, "sequences of names"),
        ({"dns_names": ["has space"]}, "not a DNS name"),
        ({"dns_names": ["x"], "days": 0}, "days must be at least 1"),
    ],
)
def test_bad_input_is_a_clear_value_error(ca, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_leaf(*ca, "server", **kwargs)


def test_a_leaf_never_outlives_its_ca():
    from cryptography import x509

    ca = make_ca("short", days=10)
    cert, _ = make_leaf(*ca, "server", dns_names=["x"], days=825)
    assert (
        x509.load_pem_x509_certificate(cert).not_valid_after_utc
        <= x509.load_pem_x509_certificate(ca[0]).not_valid_after_utc
    )
    with pytest.raises(ValueError, match="common name"):
        make_ca("")
