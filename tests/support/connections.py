"""Connection state machines (``p2psync.protocol.Connection``) joined by a fake wire:
device identities with a key and a self-signed certificate (``SERVER_ID``,
``CLIENT_ID``, ``MALLORY_ID``), their signatures checked (``verify``), and bytes fed
to a connection for the events they make (``feed``)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from p2psync.protocol import NEED_DATA, Connection, Event


class Identity:
    """A device key and self-signed certificate, as the net layer would have."""

    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.cert = cert.public_bytes(Encoding.DER)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify(certificate: bytes, transcript: bytes, signature: bytes) -> bool:
    """Whether ``signature`` of ``transcript`` was made with the key of ``certificate``."""
    key = x509.load_der_x509_certificate(certificate).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(signature, transcript, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


SERVER_ID, CLIENT_ID, MALLORY_ID = Identity("server"), Identity("client"), Identity("mallory")


def drain(conn: Connection) -> list[Event]:
    """Every event ``conn`` has ready."""
    events: list[Event] = []
    while (event := conn.next_event()) is not NEED_DATA:
        assert not isinstance(event, type(NEED_DATA))
        events.append(event)
    return events


def feed(conn: Connection, data: bytes, *, chunk: int = 0, now: float | None = None) -> list[Event]:
    """The events ``conn`` makes of ``data``, received in pieces of ``chunk`` bytes
    (0: at once)."""
    step = chunk or len(data) or 1
    events: list[Event] = []
    for i in range(0, len(data), step):
        conn.receive_data(data[i : i + step], now=now)
        events += drain(conn)
    return events
