"""A running daemon's replies have the keys of their types in control/replies.py: every
key a type requires, and no key it does not name (nested objects too)."""

from __future__ import annotations

import base64
import time
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import trio

from p2psync.config import Member, ShareConfig, save_config
from p2psync.control import replies
from p2psync.control.home import Home
from p2psync.daemon.api import ControlApi
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.sharestatus import file_docs
from p2psync.ids import DeviceId, ShareId
from tests.support.updates import text_updates

PEER = DeviceId(bytes(range(32)))


def assert_fits(value: Any, kind: Any, where: str) -> None:
    """``value`` fits the type ``kind``: a TypedDict's keys, recursively through lists,
    dicts and optional values."""
    if is_typeddict(kind):
        assert isinstance(value, dict), where
        keys = set(value)
        assert kind.__required_keys__ <= keys, f"{where}: missing {kind.__required_keys__ - keys}"
        known = kind.__required_keys__ | kind.__optional_keys__
        assert keys <= known, f"{where}: not in {kind.__name__}: {keys - known}"
        for key, hint in get_type_hints(kind).items():
            if key in value:
                assert_fits(value[key], hint, f"{where}.{key}")
    elif get_origin(kind) in (Union, types.UnionType):
        if value is not None:
            (inner,) = [arg for arg in get_args(kind) if arg is not type(None)]
            assert_fits(value, inner, where)
    elif get_origin(kind) is list:
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            assert_fits(item, get_args(kind)[0], f"{where}[{i}]")


def test_replies_have_the_keys_of_their_types(tmp_path: Path) -> None:
    home = Home.resolve(tmp_path / "home")
    home.ensure()
    share = ShareConfig(ShareId.new(), tmp_path / "share", (Member(PEER),))
    share.path.mkdir()
    (share.path / "a.txt").write_text("hello\n")
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    daemon.registry.config = daemon.registry.config.with_share(share)
    save_config(home.config_path, daemon.config)
    daemon = Daemon(home, listen="127.0.0.1:0", mdns=False)
    api = ControlApi(daemon).handlers()
    update = base64.b64encode(text_updates(1)[0][0]).decode()
    other = tmp_path / "other"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("hello", {}),
        ("status", {}),
        ("peers", {}),
        ("idle", {}),
        ("pause", {}),
        ("resume", {}),
        ("pause", {"share": str(share.id)}),
        ("resume", {"share": str(share.id)}),
        ("compact", {}),
        ("name", {"name": "tester"}),
        ("peer.add", {"device": str(PEER), "address": "127.0.0.1:9"}),
        ("peer.remove", {"device": str(PEER)}),
        ("share.member.add", {"share": str(share.id), "device": str(PEER), "mode": "send-only"}),
        ("invite", {"share": str(share.id)}),
        ("doc.apply", {"share": str(share.id), "doc": "notes", "update": update}),
        ("doc.export", {"share": str(share.id), "doc": "notes"}),
        ("history.deleted", {"share": str(share.id)}),
        ("history.files", {"share": str(share.id)}),
        ("restore.at", {"share": str(share.id), "dir": "", "time": time.time()}),
        ("share.add", {"path": str(other), "create": True}),
        ("status", {}),
    ]
    results: list[tuple[str, Any]] = []

    async def main() -> None:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                await nursery.start(daemon.run)
                service = daemon.shares[share.id]
                while file_docs(service) < 1:  # the first scan took the file in
                    await trio.sleep(0.05)
                for method, params in calls:
                    results.append((method, await api[method](params)))
                added = results[-2][1]["id"]
                results.append(("share.remove", await api["share.remove"]({"share": added})))
                nursery.cancel_scope.cancel()

    trio.run(main)
    for method, result in results:
        kinds: tuple[Any, ...] = replies.REPLIES[method]
        (kind,) = [k for k in kinds if set(k.__required_keys__) <= set(result)]
        assert_fits(result, kind, method)
    (ours,) = [s for s in results[1][1]["shares"] if s["id"] == str(share.id)]
    assert ours["members"][0]["device_id"] == str(PEER)
    assert "files" in ours  # a NotRequired key, present for a share with a mirror
