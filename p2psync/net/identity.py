"""This device's key pair and self-signed certificate, created on first use.

The key is ECDSA P-256 (secp256r1) and signatures are ECDSA with SHA-256. Every
OpenSSL that speaks TLS 1.3 accepts P-256 for both client and server certificates
(RFC 8446 makes ``ecdsa_secp256r1_sha256`` mandatory to implement), whereas Ed25519
certificates are optional in TLS 1.3 and unsupported by some stacks and libraries.

Files live in one directory, normally ``<home>/identity/``: ``cert.pem`` and
``key.pem`` (mode 0600). Each is written atomically (temp file, fsync, rename,
directory fsync); the certificate first, so an existing ``key.pem`` means the pair is
complete. Creation runs under an advisory lock on the directory, so two processes
starting at once end up with one identity. An existing key is never overwritten: a
missing, damaged or mismatched file is an IdentityError naming it.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p2psync.errors import IdentityError
from p2psync.ids import DeviceId
from p2psync.storage.fileops import write_file_atomically

log = logging.getLogger(__name__)

KEY_FILE_NAME = "key.pem"
CERT_FILE_NAME = "cert.pem"
COMMON_NAME = "p2psync"
CERT_VALIDITY_DAYS = 20 * 365
CERT_BACKDATE_DAYS = 1
"""The certificate is valid from a day ago, so a peer whose clock is behind accepts it."""
IDENTITY_DIR_MODE = 0o700
KEY_FILE_MODE = 0o600
CERT_FILE_MODE = 0o644
MAX_IDENTITY_FILE_BYTES = 64 * 1024
"""A PEM key or certificate is well under 2 KiB; anything this large is not ours."""

_CURVE = ec.SECP256R1()
_SIGNATURE_ALGORITHM = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class Identity:
    """A device's credentials: certificate, private key, and where they are stored.

    ``cert_path`` and ``key_path`` are what ``ssl.SSLContext.load_cert_chain`` takes.
    The private key never appears in ``repr()``.
    """

    device_id: DeviceId
    cert_der: bytes = field(repr=False)
    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    cert_path: Path
    key_path: Path
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    def sign(self, data: bytes) -> bytes:
        """A DER-encoded ECDSA P-256/SHA-256 signature of ``data`` (at most 72 bytes).

        Check it with ``verify_signature(identity.cert_der, data, signature)``.
        """
        return self.private_key.sign(data, _SIGNATURE_ALGORITHM)


def device_id_of_cert(cert_der: bytes) -> DeviceId:
    """The device ID of the certificate ``cert_der``: the SHA-256 of exactly those bytes.

    Use the bytes the peer presented (TLS or in-session proof), never a re-encoding:
    the ID pins those bytes. Does not parse the certificate and never raises.
    """
    return DeviceId.from_certificate_der(cert_der)


def verify_signature(cert_der: bytes, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` is an ECDSA/SHA-256 signature of ``data`` by ``cert_der``'s key.

    Safe on hostile input: a certificate that does not parse, a key that is not
    elliptic-curve, or a malformed signature all give False; it never raises.
    """
    try:
        public_key = x509.load_der_x509_certificate(cert_der).public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return False
        public_key.verify(signature, data, _SIGNATURE_ALGORITHM)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def load_or_create_identity(identity_dir: Path) -> Identity:
    """Load the identity stored in ``identity_dir``, creating it on first use.

    ``identity_dir`` is the directory itself (``<home>/identity``); it is created with
    mode 0700 if missing. A key pair is created only when ``key.pem`` does not exist;
    a ``cert.pem`` without a key (left by an interrupted creation) is replaced, with a
    warning. Raises IdentityError naming the file if a file cannot be read or written,
    is damaged, is not a P-256 key, or the certificate does not match the key.
    """
    key_path = identity_dir / KEY_FILE_NAME
    cert_path = identity_dir / CERT_FILE_NAME
    if not _exists(key_path):
        _create_if_missing(identity_dir, key_path, cert_path)
    return _load(key_path, cert_path)


def _exists(path: Path) -> bool:
    """True if anything is at ``path``, even a dangling symlink (which is never replaced)."""
    return path.is_symlink() or path.exists()


def _create_if_missing(identity_dir: Path, key_path: Path, cert_path: Path) -> None:
    """Create a key pair under the directory lock unless another process just did."""
    try:
        identity_dir.mkdir(mode=IDENTITY_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise IdentityError(f"{identity_dir}: cannot create the identity directory: {exc}") from exc
    with _locked(identity_dir):
        if _exists(key_path):
            return
        if _exists(cert_path):
            log.warning("%s has no key beside it: creating a new device identity", cert_path)
        key = ec.generate_private_key(_CURVE)
        _write(cert_path, _self_signed_certificate(key), CERT_FILE_MODE)
        _write(key_path, _key_pem(key), KEY_FILE_MODE)
        log.info("created device identity in %s", identity_dir)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock (flock) on ``directory``; raises IdentityError."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise IdentityError(f"{directory}: cannot open the identity directory: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _self_signed_certificate(key: ec.EllipticCurvePrivateKey) -> bytes:
    """A PEM certificate for ``key``, CN=p2psync, valid for CERT_VALIDITY_DAYS."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=CERT_BACKDATE_DAYS))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALIDITY_DAYS))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM (the file's mode 0600 protects it)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically and durably; raises IdentityError naming it."""
    try:
        write_file_atomically(path, data, mode=mode)
    except OSError as exc:
        raise IdentityError(f"{path}: cannot write the device identity: {exc}") from exc


def _read(path: Path, what: str) -> bytes:
    """The bytes of ``path``; raises IdentityError naming it if missing, unreadable or huge."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_IDENTITY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise IdentityError(
            f"{path}: the device {what} is missing (restore it from a backup, or move the"
            " whole identity directory away to become a new device)"
        ) from None
    except OSError as exc:
        raise IdentityError(f"{path}: cannot read the device {what}: {exc}") from exc
    if len(data) > MAX_IDENTITY_FILE_BYTES:
        raise IdentityError(
            f"{path}: the device {what} is damaged (larger than {MAX_IDENTITY_FILE_BYTES} bytes)"
        )
    return data


def _load(key_path: Path, cert_path: Path) -> Identity:
    """Read, parse and cross-check the key and certificate files."""
    key_pem = _read(key_path, "key")
    cert_pem = _read(cert_path, "certificate")
    key = _parse_key(key_pem, key_path)
    cert = _parse_certificate(cert_pem, cert_path)
    if _public_key_der(cert.public_key()) != _public_key_der(key.public_key()):
        raise IdentityError(f"{cert_path}: the certificate does not belong to the key {key_path}")
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    return Identity(
        device_id=device_id_of_cert(cert_der),
        cert_der=cert_der,
        cert_pem=cert_pem,
        key_pem=key_pem,
        cert_path=cert_path,
        key_path=key_path,
        private_key=key,
    )


def _parse_key(key_pem: bytes, key_path: Path) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in ``key_pem``; raises IdentityError naming ``key_path``."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # TypeError: the key is encrypted with a passphrase.
        raise IdentityError(f"{key_path}: the device key is damaged or unreadable: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != _CURVE.name:
        raise IdentityError(f"{key_path}: the device key is not an ECDSA P-256 key")
    return key


def _parse_certificate(cert_pem: bytes, cert_path: Path) -> x509.Certificate:
    """The certificate in ``cert_pem``; raises IdentityError naming ``cert_path``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        cert.public_key()  # parse it now: a damaged key field raises here, not later
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise IdentityError(
            f"{cert_path}: the device certificate is damaged or unreadable: {exc}"
        ) from exc
    return cert


def _public_key_der(public_key: object) -> bytes:
    """SubjectPublicKeyInfo DER of an EC public key, or b"" for any other kind."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return b""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
