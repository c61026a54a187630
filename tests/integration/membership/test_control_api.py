"""The control API's invite, join and share.member.remove, called as the GUI calls them."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.ids import DeviceId
from p2psync.invitecode import parse_invite
from tests.support.daemons import Device, make_share


@pytest.fixture
def alice(tmp_path: Path) -> Iterator[tuple[Device, str]]:
    device = Device(tmp_path, "alice")
    share = make_share([device])
    device.start()
    yield device, share
    device.stop(signal.SIGKILL)


def error_code(client: ControlClient, method: str, **params: object) -> str:
    with pytest.raises(ControlError) as error:
        client.call(method, **params)
    assert str(error.value)
    return error.value.code


def test_invite_join_and_member_remove_through_the_api(alice: tuple[Device, str]) -> None:
    device, share = alice
    with ControlClient(Home(device.home).socket_path) as client:
        methods = client.call("hello")["methods"]
        assert {"invite", "join", "share.member.remove"} <= set(methods)

        result = client.call("invite", share=share, expires_s=600, addresses=["10.1.2.3:4000"])
        code = parse_invite(result["code"])
        assert str(code.share_id) == result["share"] == share
        assert str(code.inviter) == result["inviter"] == device.id
        assert code.addresses == ("10.1.2.3:4000",) == tuple(result["addresses"])
        assert abs(result["expires"] - (time.time() + 600)) < 60
        default = parse_invite(client.call("invite", share=share)["code"])
        assert default.addresses == (device.address,)

        assert error_code(client, "invite", share=share, expires_s="1h") == "bad-request"
        assert error_code(client, "invite", share=share, addresses="x") == "bad-request"
        assert error_code(client, "invite", share=share, expires_s=0) == "usage"
        assert error_code(client, "invite", share=share, addresses=["no-port"]) == "bad-config"
        assert error_code(client, "invite", share="aaaaa-aaaaa-aaaaa-aaaaa-aaaaaa") == "not-found"

        assert error_code(client, "join", code="nonsense!", path="/tmp/x") == "bad-invite-code"
        assert error_code(client, "join", code=result["code"], path="/tmp/x") == "usage"
        stranger = str(DeviceId(b"x" * 32))
        assert error_code(client, "share.member.remove", share=share, device=stranger) == ("usage")
