"""This device's key pair and self-signed certificate, created on first use.

The key is ECDSA P-256 (every OpenSSL that speaks TLS 1.3 accepts it for client and
server certificates). Files live in ``<home>/identity/``: ``key.pem`` (mode 0600) and
``cert.pem``, each written atomically. An existing key is never overwritten: a
damaged one is an IdentityError naming the file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2psync.errors import IdentityError
from p2psync.ids import DeviceId
from p2psync.storage.fileops import write_file_atomically

CERT_VALIDITY_DAYS = 20 * 365
COMMON_NAME = "p2psync"


@dataclass(frozen=True)
class Identity:
    """A device's credentials."""

    key: ec.EllipticCurvePrivateKey
    cert_der: bytes
    cert_path: Path
    key_path: Path

    @property
    def device_id(self) -> DeviceId:
        return DeviceId.from_certificate_der(self.cert_der)

    def sign(self, data: bytes) -> bytes:
        """An ECDSA-SHA256 signature of ``data`` with this device's key."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify_signature(cert_der: bytes, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` over ``data`` was made with the key of ``cert_der``."""
    try:
        public_key = x509.load_der_x509_certificate(cert_der).public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return False
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_identity(directory: Path) -> Identity:
    """Load the identity in ``directory``, creating it on first use."""
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    if not key_path.exists():
        _create(directory, key_path, cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise IdentityError(f"{key_path}: cannot read the device key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{key_path}: the device key is not an ECDSA key")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise IdentityError(f"{cert_path}: cannot read the device certificate: {exc}") from exc
    if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise IdentityError(f"{cert_path}: the certificate does not match {key_path}")
    der = cert.public_bytes(serialization.Encoding.DER)
    return Identity(key, der, cert_path, key_path)


def _create(directory: Path, key_path: Path, cert_path: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        write_file_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        write_file_atomically(key_path, key_pem, mode=0o600)
    except OSError as exc:
        raise IdentityError(f"{directory}: cannot create the device identity: {exc}") from exc
