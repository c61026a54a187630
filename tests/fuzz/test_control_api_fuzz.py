"""Hostile requests to every control API method of a real daemon (in process).

Whatever the params, each request gets a reply (a result or an error with a code
and a sentence), the daemon keeps serving, and nothing outside its home changes.
``share.add`` only gets paths inside the test's directory, since a valid one shares
(and, with ``create``, creates) that folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2psync.control.client import ControlClient
from p2psync.control.errorcodes import BY_CODE
from p2psync.control.home import Home
from p2psync.daemon.daemon import Daemon
from p2psync.errors import ControlError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import InviteCode

DEADLINE_S = 60
METHODS = ["hello", "status", "peers", "idle", "pause", "resume", "compact", "share.remove",
           "share.member.add", "peer.add", "doc.apply", "doc.export", "share.add",
           "share.member.remove", "invite", "join", "peer.remove", "peer.name", "name",
           "no.such.method"]  # fmt: skip
THE_SHARE = "<the daemon's share>"  # replaced by the daemon's default share's ID
KEYS = ["share", "doc", "update", "device", "address", "mode", "path", "id", "code",
        "expires_s", "addresses", "create", "name"]  # fmt: skip
# A well-formed invite code for a share nobody holds, whose inviter listens nowhere.
AN_INVITE = str(InviteCode.new(ShareId.new(), DeviceId.from_certificate_der(b"y"),
                               ("127.0.0.1:1",), 4_000_000_000))  # fmt: skip

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)
# Near-valid values get past the first checks more often than random text.
plausible = st.sampled_from([
    THE_SHARE, THE_SHARE, "", "notes.md", "../escape", "AAA=", "!!!", "127.0.0.1:1",
    "host:99999", "receive-only", "bogus-mode", str(ShareId.new()),
    str(DeviceId.from_certificate_der(b"x")), AN_INVITE, 3600, ["127.0.0.1:1"],
])  # fmt: skip
params = st.dictionaries(st.sampled_from(KEYS), plausible | json_values, max_size=4)
requests = st.lists(st.tuples(st.sampled_from(METHODS), params), min_size=1, max_size=25)


async def serve_and_send(home: Home, batch: list[tuple[str, dict[str, Any]]]) -> list[str]:
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    with trio.fail_after(DEADLINE_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            share = str(next(iter(daemon.shares)))

            def client_side() -> list[str]:
                outcomes = []
                with ControlClient(home.socket_path) as client:
                    for method, given_fields in batch:
                        fields = {k: share if v == THE_SHARE else v
                                  for k, v in given_fields.items()}  # fmt: skip
                        if method in ("doc.apply", "doc.export") and "share" not in fields:
                            fields = {**fields, "share": share}
                        try:
                            client.call(method, **fields)
                            outcomes.append("ok")
                        except ControlError as exc:
                            assert exc.code != "internal-error", (method, fields, str(exc))
                            assert exc.code in BY_CODE, exc.code  # a stable code of the table
                            assert str(exc)
                            assert "\n" not in str(exc)
                            outcomes.append(exc.code)
                    client.call("status")  # still serving
                return outcomes

            outcomes = await trio.to_thread.run_sync(client_side)
            nursery.cancel_scope.cancel()
    return outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=requests)
def test_any_request_gets_a_reply_and_the_daemon_keeps_serving(
    batch: list[tuple[str, dict[str, Any]]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inside = [
            (m, {**p, "path": str(root / "shared" / str(p.get("path", ""))[:20])})
            if m == "share.add" else (m, p)
            for m, p in batch
        ]  # fmt: skip
        home = Home.resolve(root / "home")
        outcomes = trio.run(serve_and_send, home, inside)
        assert len(outcomes) == len(batch)
        assert sorted(p.name for p in root.iterdir()) <= ["home", "shared"]
