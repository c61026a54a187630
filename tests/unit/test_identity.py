"""The device identity: creation, reloading, damage handling, signatures and TLS use."""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from p2psync.errors import IdentityError
from p2psync.net import identity as identity_module
from p2psync.net.identity import (
    MAX_IDENTITY_FILE_BYTES,
    Identity,
    device_id_of_cert,
    load_or_create_identity,
    verify_signature,
)
from p2psync.storage import fileops

TLS_HANDSHAKE_MAX_ROUNDS = 10


@pytest.fixture
def identity_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "identity"


@pytest.fixture
def identity(identity_dir: Path) -> Identity:
    return load_or_create_identity(identity_dir)


def other_identity(tmp_path: Path) -> Identity:
    return load_or_create_identity(tmp_path / "other" / "identity")


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- creation and reloading ---------------------------------------------------------


def test_first_use_creates_key_and_certificate(identity_dir: Path, identity: Identity) -> None:
    assert identity.key_path == identity_dir / "key.pem"
    assert identity.cert_path == identity_dir / "cert.pem"
    assert file_names(identity_dir) == ["cert.pem", "key.pem"]  # no temp files left
    assert identity.key_path.read_bytes() == identity.key_pem
    assert identity.cert_path.read_bytes() == identity.cert_pem
    assert file_mode(identity.key_path) == 0o600
    assert file_mode(identity_dir) == 0o700


def test_device_id_is_sha256_of_certificate_der(identity: Identity) -> None:
    der = ssl.PEM_cert_to_DER_cert(identity.cert_pem.decode("ascii"))
    assert identity.cert_der == der
    assert identity.device_id.digest == hashlib.sha256(der).digest()
    assert device_id_of_cert(der) == identity.device_id


def test_certificate_is_self_signed_p256_cn_p2psync_for_many_years(identity: Identity) -> None:
    cert = x509.load_der_x509_certificate(identity.cert_der)
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_names] == ["p2psync"]
    assert cert.issuer == cert.subject
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc < now
    assert cert.not_valid_after_utc - now > datetime.timedelta(days=19 * 365)


def test_later_uses_load_the_same_identity(identity_dir: Path, identity: Identity) -> None:
    again = load_or_create_identity(identity_dir)
    assert again == identity
    assert again.device_id == identity.device_id
    assert again.key_pem == identity.key_pem


def test_each_device_gets_its_own_identity(identity: Identity, tmp_path: Path) -> None:
    assert other_identity(tmp_path).device_id != identity.device_id


def test_repr_never_shows_the_private_key(identity: Identity) -> None:
    text = repr(identity)
    assert "PRIVATE KEY" not in text
    assert str(identity.device_id) in text


def test_creation_is_durable(identity_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both files and their directory are fsynced before the identity is used."""
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    load_or_create_identity(identity_dir)
    assert len(synced) >= 4  # cert, its directory entry, key, its directory entry


def test_interrupted_creation_is_finished_on_next_use(
    identity_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A crash after cert.pem and before key.pem: the orphan cert is replaced next time."""
    real_write = fileops.write_file_atomically

    def fail_on_key(path: Path, data: bytes, *, mode: int = 0o644) -> None:
        if path.name == "key.pem":
            raise OSError(28, "No space left on device")
        real_write(path, data, mode=mode)

    monkeypatch.setattr("p2psync.net.identity.write_file_atomically", fail_on_key)
    with pytest.raises(IdentityError, match=re.escape(str(identity_dir / "key.pem"))):
        load_or_create_identity(identity_dir)
    assert file_names(identity_dir) == ["cert.pem"]
    orphan = (identity_dir / "cert.pem").read_bytes()

    monkeypatch.setattr("p2psync.net.identity.write_file_atomically", real_write)
    with caplog.at_level(logging.WARNING, logger="p2psync.net.identity"):
        identity = load_or_create_identity(identity_dir)
    assert "has no key" in caplog.text
    assert identity.cert_pem != orphan


# --- damaged files: a typed error naming the file, and the key is never replaced -----


def damage(path: Path, data: bytes) -> None:
    path.write_bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"\xff\xfe\x00binary",
    ],
)
def test_damaged_key_is_an_error_and_is_kept(
    identity_dir: Path, identity: Identity, data: bytes
) -> None:
    damage(identity.key_path, data)
    with pytest.raises(IdentityError, match=re.escape(str(identity.key_path))):
        load_or_create_identity(identity_dir)
    assert identity.key_path.read_bytes() == data


def test_truncated_key_is_an_error(identity_dir: Path, identity: Identity) -> None:
    damage(identity.key_path, identity.key_pem[: len(identity.key_pem) // 2])
    with pytest.raises(IdentityError, match="damaged or unreadable"):
        load_or_create_identity(identity_dir)


def test_huge_key_file_is_an_error(identity_dir: Path, identity: Identity) -> None:
    damage(identity.key_path, b"A" * (MAX_IDENTITY_FILE_BYTES + 1))
    with pytest.raises(IdentityError, match="larger than"):
        load_or_create_identity(identity_dir)


def test_unreadable_key_is_an_error(identity_dir: Path, identity: Identity) -> None:
    identity.key_path.unlink()
    identity.key_path.mkdir()  # open() fails even for root, unlike chmod 000
    with pytest.raises(IdentityError, match=re.escape(f"{identity.key_path}: cannot read")):
        load_or_create_identity(identity_dir)
    assert identity.key_path.is_dir()


def test_passphrase_protected_key_is_an_error(identity_dir: Path, identity: Identity) -> None:
    encrypted = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    damage(identity.key_path, encrypted)
    with pytest.raises(IdentityError, match=re.escape(str(identity.key_path))):
        load_or_create_identity(identity_dir)


@pytest.mark.parametrize(
    "other_key",
    [ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP384R1())],
    ids=["ed25519", "p384"],
)
def test_key_of_another_type_is_an_error(
    identity_dir: Path,
    identity: Identity,
    other_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
) -> None:
    pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    damage(identity.key_path, pem)
    with pytest.raises(IdentityError, match="not an ECDSA P-256 key"):
        load_or_create_identity(identity_dir)
    assert identity.key_path.read_bytes() == pem


def test_missing_certificate_is_an_error_and_the_key_is_kept(
    identity_dir: Path, identity: Identity
) -> None:
    identity.cert_path.unlink()
    with pytest.raises(IdentityError, match=re.escape(f"{identity.cert_path}: ") + ".* missing"):
        load_or_create_identity(identity_dir)
    assert identity.key_path.read_bytes() == identity.key_pem
    assert not identity.cert_path.exists()


def test_damaged_certificate_is_an_error(identity_dir: Path, identity: Identity) -> None:
    damage(identity.cert_path, identity.cert_pem.replace(b"M", b"!", 3))
    with pytest.raises(IdentityError, match=re.escape(str(identity.cert_path))):
        load_or_create_identity(identity_dir)
    assert identity.key_path.read_bytes() == identity.key_pem


def test_certificate_of_another_key_is_an_error(
    identity_dir: Path, identity: Identity, tmp_path: Path
) -> None:
    damage(identity.cert_path, other_identity(tmp_path).cert_pem)
    with pytest.raises(IdentityError, match="does not belong to the key"):
        load_or_create_identity(identity_dir)


# --- signatures --------------------------------------------------------------------


def test_signature_verifies_with_own_certificate(identity: Identity) -> None:
    signature = identity.sign(b"transcript")
    assert len(signature) <= 72
    assert verify_signature(identity.cert_der, b"transcript", signature)


def test_signature_does_not_verify_for_other_data_or_key(
    identity: Identity, tmp_path: Path
) -> None:
    signature = identity.sign(b"transcript")
    assert not verify_signature(identity.cert_der, b"transcript!", signature)
    assert not verify_signature(other_identity(tmp_path).cert_der, b"transcript", signature)
    assert not verify_signature(identity.cert_der, b"transcript", signature[:-1])
    assert not verify_signature(identity.cert_der, b"transcript", b"")


def test_certificate_with_a_non_ec_key_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p2psync")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, None)
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert not verify_signature(der, b"data", key.sign(b"data"))


@given(st.binary(max_size=2048), st.binary(max_size=64), st.binary(max_size=128))
def test_verify_signature_never_raises_on_hostile_bytes(
    cert_der: bytes, data: bytes, signature: bytes
) -> None:
    assert verify_signature(cert_der, data, signature) is False


def test_verify_signature_rejects_hostile_signatures(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path / "identity")

    @given(st.binary(max_size=128))
    def check(signature: bytes) -> None:
        assert verify_signature(identity.cert_der, b"data", signature) is False

    check()


def test_signatures_use_sha256() -> None:
    # The transport and verify_signature agree on ECDSA with SHA-256; pin it.
    assert isinstance(identity_module._SIGNATURE_ALGORITHM.algorithm, hashes.SHA256)


# --- TLS 1.3 -------------------------------------------------------------------------


def tls_context(identity: Identity, peer: Identity, *, server_side: bool) -> ssl.SSLContext:
    """A TLS 1.3 context presenting ``identity`` and trusting only ``peer``'s certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(identity.cert_path, identity.key_path)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=peer.cert_pem.decode("ascii"))
    return context


def handshake_in_memory(
    client_context: ssl.SSLContext, server_context: ssl.SSLContext
) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Run a TLS handshake between two contexts through memory buffers (no sockets)."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_out, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, client_out, server_side=False)
    server = server_context.wrap_bio(to_server, server_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(TLS_HANDSHAKE_MAX_ROUNDS):
        for name, side, out, peer_in in (
            ("client", client, client_out, to_server),
            ("server", server, server_out, to_client),
        ):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            return client, server
    raise AssertionError("the TLS handshake did not finish")


def test_identity_works_for_tls13_client_and_server(identity: Identity, tmp_path: Path) -> None:
    peer = other_identity(tmp_path)
    client, server = handshake_in_memory(
        tls_context(identity, peer, server_side=False),
        tls_context(peer, identity, server_side=True),
    )
    assert client.version() == "TLSv1.3"
    assert client.getpeercert(binary_form=True) == peer.cert_der
    assert server.getpeercert(binary_form=True) == identity.cert_der
    # And the other way round: each identity works in both roles.
    client, server = handshake_in_memory(
        tls_context(peer, identity, server_side=False),
        tls_context(identity, peer, server_side=True),
    )
    assert server.version() == "TLSv1.3"
    assert server.getpeercert(binary_form=True) == peer.cert_der
