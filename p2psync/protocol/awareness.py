"""Awareness frames (``aw``, protocol version 3): the presence of apps relayed between
peers (docs/protocol.md §3, "Presence"). Pure.

A frame carries y-protocols awareness states, each ``[client, clock, state]``: the
state is the JSON text an app set (its cursor, its name), as bytes, ``null`` when the
client left. Every state is checked the way a JavaScript app will read it
(``JSON.parse``): UTF-8, JSON without ``NaN`` or ``Infinity``, not nested deeper
than Python's recursion limit; a frame holding anything else is refused
(``bad-message``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from p2psync.errors import MalformedMessageError
from p2psync.protocol.messages import (
    MAX_AWARENESS_NUMBER,
    MAX_AWARENESS_STATE_BYTES,
    Awareness,
    AwarenessState,
)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_problem(state: str) -> str | None:
    """Why ``state`` is not an awareness state an app can read, or None if it is."""
    try:
        json.loads(state, parse_constant=_no_constant)
    except ValueError:
        return "an awareness state is not JSON"
    except RecursionError:
        return "an awareness state is nested too deeply"
    return None


def encode(message: Awareness) -> dict[str, Any]:
    """The frame body of ``message``."""
    states = [[s.client, s.clock, s.state.encode()] for s in message.states]
    return {"t": "aw", "s": message.share_id, "d": message.guid, "e": states}


def decode_states(
    items: list[Any], bad: Callable[[str, str], MalformedMessageError]
) -> tuple[AwarenessState, ...]:
    """The states of an ``aw`` frame's ``e`` field (its length already checked);
    raises ``bad("e", problem)`` for an item that is not ``[client, clock, state]``
    within the limits."""
    if not items:
        raise bad("e", "must hold at least one state")
    states = []
    for item in items:
        if not isinstance(item, list) or len(item) != 3:
            raise bad("e", "items must be [client, clock, state]")
        client, clock, state = item
        if not all(_is_number(n) for n in (client, clock)):
            raise bad("e", f"client and clock must be in 0..{MAX_AWARENESS_NUMBER}")
        if not isinstance(state, bytes) or len(state) > MAX_AWARENESS_STATE_BYTES:
            raise bad("e", f"states must be bin of at most {MAX_AWARENESS_STATE_BYTES} bytes")
        try:
            text = state.decode("utf-8")
        except UnicodeDecodeError:
            raise bad("e", "a state is not UTF-8") from None
        if (problem := json_problem(text)) is not None:
            raise bad("e", problem)
        states.append(AwarenessState(client, clock, text))
    return tuple(states)


def _is_number(value: Any) -> bool:
    number = isinstance(value, int) and not isinstance(value, bool)
    return number and 0 <= value <= MAX_AWARENESS_NUMBER
