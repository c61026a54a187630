"""The join dialog's words on a code, and how long it waits for a join (no Qt)."""

from __future__ import annotations

from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import InviteCode
from p2psync_tray.describe import as_sentence, format_until, short_id
from p2psync_tray.invitecheck import JOIN_S_PER_ADDRESS, check_code, join_timeout_s

NOW = 1_800_000_000.0
SHARE = ShareId(bytes(range(16)))
INVITER = DeviceId(bytes(range(32)))


def code(addresses: tuple[str, ...] = ("127.0.0.1:4000",), expires: float = NOW + 60) -> InviteCode:
    return InviteCode.new(SHARE, INVITER, addresses, int(expires))


def test_a_good_code_says_what_it_is_for() -> None:
    made = code()
    check = check_code(str(made), NOW)
    assert check.code == made
    assert check.sentence == (
        f"An invite to share {SHARE} from device {short_id(str(INVITER))}, "
        f"valid until {format_until(made.expires)}."
    )


def test_empty_expired_and_mistyped_codes() -> None:
    assert check_code(" \n", NOW).code is None
    assert check_code(" \n", NOW).sentence == ""
    expired = check_code(str(code(expires=NOW - 1)), NOW)
    assert expired.code is None
    assert expired.sentence == "This invite code has expired: ask for a new one."
    assert check_code("hello, world", NOW).sentence == (
        "This is not an invite code (letters A-Z and digits 2-7 only)."
    )


def test_join_waits_for_every_address() -> None:
    assert join_timeout_s(code(())) > JOIN_S_PER_ADDRESS
    three = code(("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"))
    assert join_timeout_s(three) > 3 * JOIN_S_PER_ADDRESS


def test_messages_become_sentences() -> None:
    assert as_sentence("no daemon is running") == "No daemon is running."
    assert as_sentence(" is it cut short? ") == "Is it cut short?"
    assert as_sentence("") == ""
