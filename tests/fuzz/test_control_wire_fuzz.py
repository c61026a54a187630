"""The control API's line framing under hypothesis: any bytes give messages or one
ControlError, never another exception, and lines are bounded."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.control import wire
from p2psync.errors import ControlError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_any_bytes_split_anywhere_give_lines_or_a_control_error(chunks: list[bytes]) -> None:
    buffer = wire.LineBuffer()
    for chunk in chunks:
        try:
            lines = buffer.feed(chunk)
        except ControlError:
            return
        for line in lines:
            assert b"\n" not in line
            try:
                message = wire.decode(line)
            except ControlError as exc:
                assert str(exc)
            else:
                assert message["v"] == wire.CONTROL_API_VERSION


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "id", "method", "params", "x"]), json_values))
def test_json_objects_decode_only_with_our_version(message: dict[str, object]) -> None:
    line = json.dumps(message).encode()
    try:
        decoded = wire.decode(line)
    except ControlError:
        assert message.get("v") != wire.CONTROL_API_VERSION
    else:
        assert decoded == message


def test_an_endless_line_is_refused() -> None:
    buffer = wire.LineBuffer()
    chunk = b"x" * 65536
    try:
        for _ in range(wire.MAX_MESSAGE_BYTES // len(chunk) + 2):
            buffer.feed(chunk)
    except ControlError as exc:
        assert "too large" in str(exc)
    else:
        raise AssertionError("a line over the limit was buffered")
