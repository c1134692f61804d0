"""The emulator's local CA and server certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from gemgate.emulator._tls import client_context, self_signed


def test_self_signed_writes_a_ca_and_a_server_certificate(tmp_path: Path) -> None:
    files = self_signed(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    assert cert.issuer == ca.subject
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert files.key.stat().st_mode & 0o077 == 0
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.cert, files.key)
    context = client_context(files.ca)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_self_signed_reuses_existing_files(tmp_path: Path) -> None:
    first = self_signed(tmp_path)
    before = first.ca.read_bytes()
    again = self_signed(tmp_path)
    assert again == first
    assert again.ca.read_bytes() == before
