"""A small local certificate authority for the self-hosted stack: one CA, a server certificate for
Mosquitto, and client certificates where wanted.

Keys are ECDSA P-256 (TLS 1.2/1.3 everywhere, and the curve every MQTT client library accepts).
Certificates follow RFC 5280 and the CA/Browser Forum baseline where it matters to clients: the CA has
``basicConstraints CA:true, pathlen:0`` and ``keyCertSign, cRLSign`` key usage (RFC 5280 §4.2.1.3,
§4.2.1.9); a leaf has ``CA:false``, ``digitalSignature`` (the only usage ECDHE-ECDSA needs), an
extended key usage of ``serverAuth`` or ``clientAuth`` (§4.2.1.12) and its names in the subject
alternative name, which is what verifiers match, not the common name (RFC 6125 §6.4.4). The default
leaf lifetime of 825 days is the longest Apple's TLS clients accept.

PEM in, PEM out: the caller decides where the files go and with which permissions (``vagus init``
writes them 0600). Needs ``cryptography`` (the ``server`` extra).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["make_ca", "make_leaf"]

# A certificate valid from "now" fails on a machine whose clock is a little behind the CA's.
_BACKDATE = dt.timedelta(minutes=5)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    if not common_name or len(common_name) > 64:  # RFC 5280 ub-common-name
        raise ValueError(f"common name must be 1-64 characters, not {common_name!r}")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    now = dt.datetime.now(dt.UTC)
    return now - _BACKDATE, now + dt.timedelta(days=days)


def _serial() -> int:
    # RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B Forum asks for at least 64 random bits.
    return secrets.randbits(159) | 1


def make_ca(common_name: str, *, days: int = 3650) -> tuple[bytes, bytes]:
    """A self-signed CA that signs leaves only (``pathlen:0``): (certificate PEM, private key PEM)."""
    key = _new_key()
    name = _name(common_name)
    not_before, not_after = _validity(days)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for dns in dns_names:
        if not dns or any(c.isspace() for c in dns) or not dns.isascii():
            raise ValueError(f"not a DNS name: {dns!r} (use the IDNA/ASCII form)")
        names.append(x509.DNSName(dns))
    for ip in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError as exc:
            raise ValueError(f"not an IP address: {ip!r}") from exc
    return names


def make_leaf(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    common_name: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    client: bool = False,
    days: int = 825,
) -> tuple[bytes, bytes]:
    """A certificate signed by the CA: (certificate PEM, private key PEM).

    ``client=False``: a TLS server certificate (``serverAuth``); it needs at least one DNS name or IP
    address, since clients match those and ignore the common name. ``client=True``: a client
    certificate (``clientAuth``) whose common name is the identity (Mosquitto's
    ``use_identity_as_username``); names are optional."""
    if isinstance(dns_names, str) or isinstance(ip_addresses, str):
        raise ValueError("dns_names and ip_addresses are sequences of names, not one string")
    try:
        ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
        ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    except ValueError as exc:
        raise ValueError(f"cannot read the CA certificate or key: {exc}") from exc
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or ca_key.public_key() != ca_cert.public_key():
        raise ValueError("the CA key does not belong to the CA certificate")
    alt_names = _alt_names(dns_names, ip_addresses)
    if not client and not alt_names:
        raise ValueError("a server certificate needs at least one DNS name or IP address")
    not_before, not_after = _validity(days)
    not_after = min(not_after, ca_cert.not_valid_after_utc)  # a leaf outliving its CA fails verification
    key = _new_key()
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)
