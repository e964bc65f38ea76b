"""
A private certificate authority for serving the emulator over https.

The hook refuses plain http off loopback, so a stack whose emulator is another host needs TLS.

:func:`ensure_certificates` writes, once per directory, a CA and a server certificate signed by it
for the given host names (made by ``trustme``, the ``testing`` extra), and ``ca-bundle.pem``: the CA
appended to the usual public roots, for clients (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``) that
also talk to real Zoho.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
BUNDLE_FILE = "ca-bundle.pem"


@dataclass(frozen=True)
class TLSFiles:
    """
    Where the certificates of one directory are.

    :param ca: the CA certificate (trust it to reach the emulator).
    :param cert: the server certificate.
    :param key: the server's private key (mode 0600).
    :param bundle: the public roots plus the CA.
    """

    ca: Path
    cert: Path
    key: Path
    bundle: Path


def ensure_certificates(directory: str | Path, hosts: list[str]) -> TLSFiles:
    """
    Return the certificates in ``directory``, creating them when missing or not valid for ``hosts``.

    :param directory: where the files live (created with mode 0755).
    :param hosts: DNS names or IP literals the server certificate must cover.
    :raises ValueError: when ``hosts`` is empty.
    """
    if not hosts:
        raise ValueError("the server certificate needs at least one host name")
    folder = Path(directory)
    files = TLSFiles(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE, folder / BUNDLE_FILE)
    if all(p.is_file() for p in (files.ca, files.cert, files.key, files.bundle)) and _covers(files, hosts):
        return files
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    _write(files, hosts)
    return files


def _covers(files: TLSFiles, hosts: list[str]) -> bool:
    """Whether the existing server certificate names every host."""
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(n) for n in names.get_values_for_type(x509.DNSName)}
    have |= {str(n) for n in names.get_values_for_type(x509.IPAddress)}
    return set(hosts) <= have


def _write(files: TLSFiles, hosts: list[str]) -> None:
    """Create the CA, the server key and certificate (``trustme``), and the bundle."""
    import trustme

    ca = trustme.CA(key_type=trustme.KeyType.ECDSA, organization_unit_name="Zoho CRM emulator test CA")
    server = ca.issue_cert(*hosts, key_type=trustme.KeyType.ECDSA)
    ca_pem = ca.cert_pem.bytes()
    _replace(files.key, server.private_key_pem.bytes(), 0o600)
    _replace(files.cert, server.cert_chain_pems[0].bytes(), 0o644)
    _replace(files.ca, ca_pem, 0o644)
    _replace(files.bundle, Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + ca_pem, 0o644)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (readers never see a half-written file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(partial, mode)
    os.replace(partial, path)
