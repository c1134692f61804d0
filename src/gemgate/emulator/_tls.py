"""A local certificate authority and server certificate, so clients can reach the emulator over TLS.

The official SDK always opens Live sessions with ``wss://`` (it rewrites the scheme of any
``base_url``), so the emulator's Live endpoint must be served over TLS. :func:`self_signed`
writes a small CA (``ca.pem``) and a server certificate for ``localhost``, ``127.0.0.1`` and
``::1`` signed by it (``cert.pem`` + ``key.pem``). Clients trust ``ca.pem``: either with
``SSL_CERT_FILE=.../ca.pem`` in the environment, or per client with
``http_options={"async_client_args": {"ssl": client_context(ca)}}``.

Example::

    files = self_signed(Path("/tmp/gemgate-tls"))
    uvicorn.run(app, ssl_certfile=files.cert, ssl_keyfile=files.key)
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "client_context", "self_signed"]

_HOSTS = ("localhost", "127.0.0.1", "::1")
_VALID_DAYS = 825
"""The longest validity clients accept for a server certificate."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificate files are: ``ca`` to trust, ``cert`` and ``key`` to serve."""

    ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gemgate emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _issue(hosts: tuple[str, ...]) -> tuple[bytes, bytes, bytes]:
    """PEM bytes of a fresh CA, a server certificate it signed, and the server's key."""
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=_VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("gemgate emulator local CA")
    ca_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_usage, critical=True)
        .add_extension(ca_key_id, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _pem(ca), _pem(leaf), key_pem


def self_signed(directory: Path, hosts: tuple[str, ...] = _HOSTS) -> TlsFiles:
    """Write (or reuse) ``ca.pem``, ``cert.pem`` and ``key.pem`` in ``directory``.

    Files already there are reused, so a client keeps trusting the same CA across runs.

    Args:
        directory: Where the files go; created if missing.
        hosts: Names and addresses the server certificate is valid for.

    Returns:
        The paths of the three files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    if all(path.exists() for path in (files.ca, files.cert, files.key)):
        return files
    ca, cert, key = _issue(hosts)
    files.key.touch(mode=0o600)
    files.key.write_bytes(key)
    files.cert.write_bytes(cert)
    files.ca.write_bytes(ca)
    return files


def client_context(ca: Path) -> ssl.SSLContext:
    """A client SSL context that trusts ``ca`` (pass it as the SDK's ``ssl`` client arg)."""
    return ssl.create_default_context(cafile=str(ca))
