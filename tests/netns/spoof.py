"""A forged p2psync announcement: a real device's ID and share hash at another address.

Run inside a testbed namespace: ``python tests/netns/spoof.py DEVICE_ID SHARE_ID HOST
PORT``. It announces ``_p2psync._tcp.local.`` with a valid TXT record for DEVICE_ID
holding SHARE_ID (the strongest forger: one that knows the share, or replays a real
record) but pointing at HOST:PORT, and keeps it up until SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading

from zeroconf import IPVersion, ServiceInfo, Zeroconf

from p2psync.discovery.announce import SERVICE_TYPE, encode_txt, new_instance_id
from p2psync.ids import DeviceId, ShareId


def main(device_text: str, share_text: str, host: str, port: str) -> None:
    instance = new_instance_id()
    device = DeviceId.parse(device_text)
    info = ServiceInfo(
        SERVICE_TYPE, f"forged-{instance}.{SERVICE_TYPE}", port=int(port),
        properties=encode_txt(device, instance, (1,), [ShareId.parse(share_text)]),
        server=f"forged-{instance}.local.", parsed_addresses=[host],
    )  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    zc = Zeroconf(interfaces=[host], ip_version=IPVersion.V4Only)
    try:
        zc.register_service(info)
        print("announced", info.name, flush=True)
        stop.wait()
    finally:
        zc.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
