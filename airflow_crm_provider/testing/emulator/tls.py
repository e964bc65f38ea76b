"""
A private certificate authority for serving the emulator over https.

The hook refuses plain http off loopback, so a stack whose emulator is another host needs TLS.

:func:`ensure_certificates` writes, once per directory, a CA, a server certificate signed by it for
the given host names, and ``ca-bundle.pem``: the CA appended to the usual public roots, for clients
(``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``) that also talk to real Zoho.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
BUNDLE_FILE = "ca-bundle.pem"
_VALIDITY = datetime.timedelta(days=825)


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


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write(files: TLSFiles, hosts: list[str]) -> None:
    """Create the CA, the server key and certificate, and the bundle."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Zoho CRM emulator test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ca_pem = ca.public_bytes(pem)
    _replace(files.key, key_pem, 0o600)
    _replace(files.cert, cert.public_bytes(pem), 0o644)
    _replace(files.ca, ca_pem, 0o644)
    _replace(files.bundle, Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + ca_pem, 0o644)


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically with ``mode`` (readers never see a half-written file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(partial, mode)
    os.replace(partial, path)
