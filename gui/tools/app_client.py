"""A real app of the apps endpoint, for the tray's pictures: a y-websocket client
(trio-websocket and pycrdt's y-protocols, as an editor's provider speaks them).

    python gui/tools/app_client.py URL CLIENT_ID

Connects to a doc's URL (``p2psync doc url FILE``), syncs, prints ``synced`` and
stays connected, answering the endpoint, until it is terminated.
"""

from __future__ import annotations

import sys
from typing import Any

import pycrdt
import trio
from trio_websocket import ConnectionClosed, open_websocket_url


async def stay(url: str, client_id: int) -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    async with open_websocket_url(url) as ws:
        await ws.send_message(pycrdt.create_sync_message(doc))
        try:
            while True:
                message = await ws.get_message()
                if not isinstance(message, bytes) or message[0] != pycrdt.YMessageType.SYNC:
                    continue
                reply = pycrdt.handle_sync_message(message[1:], doc)
                if reply is not None:
                    await ws.send_message(reply)
                if message[1] == pycrdt.YSyncMessageType.SYNC_STEP2:
                    print("synced", flush=True)
        except ConnectionClosed:
            return


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: app_client.py URL CLIENT_ID", file=sys.stderr)
        return 2
    trio.run(stay, argv[0], int(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
