"""What the join dialog says about a pasted invite code, as it is typed (no Qt).

It runs the parser the daemon runs (``p2psync.invitecode``), so a typo is caught and
worded here, before the daemon is asked anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2psync.errors import InvalidInviteError
from p2psync.invitecode import InviteCode, parse_invite
from p2psync_tray.describe import as_sentence, format_until, short_id

JOIN_S_PER_ADDRESS = 20.0
"""How long ``join`` may take per address of the code (docs/control-api.md)."""
JOIN_SLACK_S = 10.0


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The verdict on a code: ``code`` when it can be used, and one sentence either
    way (empty for an empty field)."""

    code: InviteCode | None
    sentence: str


def check_code(text: str, now: float) -> CodeCheck:
    if not text.strip():
        return CodeCheck(None, "")
    try:
        code = parse_invite(text)
    except InvalidInviteError as exc:
        return CodeCheck(None, as_sentence(str(exc)))
    if code.expired(now):
        return CodeCheck(None, "This invite code has expired: ask for a new one.")
    return CodeCheck(
        code,
        f"An invite to share {code.share_id} from device {short_id(str(code.inviter))}, "
        f"valid until {format_until(code.expires)}.",
    )


def join_timeout_s(code: InviteCode) -> float:
    """How long to wait for ``join`` with this code: it dials each address in turn."""
    return JOIN_S_PER_ADDRESS * max(1, len(code.addresses)) + JOIN_SLACK_S
