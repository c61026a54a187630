"""Opening a log never crashes, whatever bytes the file holds."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.errors import UnsupportedLogError
from p2psync.storage import DocLog
from p2psync.storage import format as fmt

VALID = fmt.encode_header() + fmt.encode_updates([b"one"]) + fmt.encode_updates([b"a", b"b"])


@st.composite
def log_files(draw: st.DrawFn) -> bytes:
    """Random bytes, or a valid log with random bytes spliced in or appended."""
    junk = draw(st.binary(max_size=200))
    shape = draw(st.sampled_from(["junk", "append", "splice"]))
    if shape == "junk":
        return junk
    if shape == "append":
        return VALID + junk
    cut = draw(st.integers(0, len(VALID)))
    return VALID[:cut] + junk + VALID[cut:]


@settings(max_examples=300, deadline=None)
@given(log_files())
def test_open_never_crashes_and_leaves_a_clean_log(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.log"
        path.write_bytes(data)
        try:
            opened = DocLog.open(path)
        except UnsupportedLogError:
            assert path.read_bytes() == data  # left untouched
            return
        opened.log.close()
        again = DocLog.open(path)
        again.log.close()
        assert again.recovery is None
        assert again.updates == opened.updates
        recovery = opened.recovery
        if recovery is not None and recovery.quarantined_to is not None:
            assert recovery.quarantined_to.read_bytes() == data
