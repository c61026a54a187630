"""What the tray asks the daemon to do in one request: pause and resume (everything,
or one share), accept a pending device, name a peer, rename this device. Each is a
queued ``DaemonLink`` request; a failure comes back as the link's ``failed`` signal.
"""

from __future__ import annotations

from p2psync_tray.link import DaemonLink


class DaemonAsks:
    """The one-request actions of the tray (see the module docstring)."""

    def __init__(self, link: DaemonLink) -> None:
        self.link = link

    def pause(self, share: str = "") -> None:
        params = {"share": share} if share else {}
        self.link.request("pause sync", "pause", **params)

    def resume(self, share: str = "") -> None:
        params = {"share": share} if share else {}
        self.link.request("resume sync", "resume", **params)

    def pause_share(self, share: str, pause: bool) -> None:
        """Pause ``share`` if ``pause``, else resume it."""
        (self.pause if pause else self.resume)(share)

    def accept_pending(self, device: str, share: str) -> None:
        """Make a pending device a member of ``share`` (``share member add``)."""
        self.link.request(
            f"accept device {device}", "share.member.add",
            share=share, device=device, mode="send-receive",
        )  # fmt: skip

    def name_peer(self, device: str, name: str) -> None:
        """The name shown here for a device (``peer name``; "" forgets it)."""
        self.link.request(f"name device {device}", "peer.name", device=device, name=name)

    def rename(self, name: str) -> None:
        """Rename this device (``p2psync name``)."""
        self.link.request("rename this device", "name", name=name)
