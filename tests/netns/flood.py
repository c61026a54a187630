"""A flood of forged p2psync announcements: COUNT services with random device IDs.

Run inside a testbed namespace: ``python tests/netns/flood.py COUNT HOST``. It sends
unsolicited mDNS responses (PTR, SRV, TXT and A records of valid-looking p2psync
services, a few per packet) from HOST to the mDNS group and exits; nothing answers
or registers, so the announcements cost the sender nothing but the packets. Packets
are paced (PACKET_GAP_S) so that most of them arrive.
"""

from __future__ import annotations

import secrets
import socket
import sys
import time

from zeroconf import ServiceInfo
from zeroconf._protocol.outgoing import DNSOutgoing
from zeroconf.const import _FLAGS_AA, _FLAGS_QR_RESPONSE

from p2psync.discovery.announce import SERVICE_TYPE, encode_txt, new_instance_id
from p2psync.ids import DeviceId, ShareId

MDNS_GROUP = ("224.0.0.251", 5353)
SERVICES_PER_MESSAGE = 25
PACKET_GAP_S = 0.002
"""Back to back, most packets would be lost in the receivers' socket buffers."""


def fake(index: int, host: str) -> ServiceInfo:
    instance = new_instance_id()
    device = DeviceId(secrets.token_bytes(32))
    return ServiceInfo(
        SERVICE_TYPE, f"fake{index}-{instance}.{SERVICE_TYPE}", port=22070,
        properties=encode_txt(device, instance, (1,), [ShareId.new()]),
        server=f"fake{index}.local.", parsed_addresses=[host],
    )  # fmt: skip


def main(count: int, host: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        sent = 0
        for start in range(0, count, SERVICES_PER_MESSAGE):
            out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
            for index in range(start, min(count, start + SERVICES_PER_MESSAGE)):
                info = fake(index, host)
                for record in [info.dns_pointer(), info.dns_service(), info.dns_text(),
                               *info.dns_addresses()]:  # fmt: skip
                    out.add_answer_at_time(record, 0)
            for packet in out.packets():
                sock.sendto(packet, MDNS_GROUP)
                sent += 1
                time.sleep(PACKET_GAP_S)  # a sender's pace, not a wait for anything
        print(f"sent {count} services in {sent} packets", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
