"""Hostile share paths: whatever a peer sends, nothing is written outside the share.

Arbitrary strings, and paths built from the pieces attacks are made of (``..``,
absolute roots, backslashes, drive letters, symlinks planted in the share), go through
``share_path`` and ``is_inside``; every path they accept is really written, and the
test proves it landed inside the share and that nothing appeared outside.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.errors import UnsafePathError
from p2psync.mirror.paths import INTERNAL_DIR, is_inside, share_path

PIECES = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "b c",
        "link",
        "uplink",
        "rootlink",
        "filelink",
        "real",
        "\\",
        "..\\..",
        "C:",
        "~",
        "%2e%2e",
        "\0",
        "\n",
        "CON",
        "x.",
        ".p2psync",
        ".P2PSYNC",
        "é",
        "e\u0301",
        "😀",
        "\u202e",
        "\udcff",
    ]
)
joined_paths = st.tuples(
    st.sampled_from(["", "/", "//", "./", "../"]),
    st.lists(PIECES, min_size=1, max_size=6),
    st.sampled_from(["", "/", "/.", "/.."]),
).map(lambda parts: parts[0] + "/".join(parts[1]) + parts[2])
any_paths = st.one_of(joined_paths, st.text(max_size=40))


class Share:
    """A share folder with symlinks planted inside it, next to a folder that must
    stay empty."""

    def __init__(self, base: Path) -> None:
        self.root = base / "share"
        self.outside = base / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        (self.root / "real").mkdir()
        (self.root / "link").symlink_to(self.outside, target_is_directory=True)
        (self.root / "real" / "uplink").symlink_to("../..", target_is_directory=True)
        (self.root / "rootlink").symlink_to("/", target_is_directory=True)
        (self.root / "filelink").symlink_to(self.outside / "victim.txt")

    def outside_is_untouched(self) -> bool:
        return not any(self.outside.iterdir())


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Share:
    return Share(tmp_path_factory.mktemp("hostile"))


def write_through(share: Share, raw: str) -> Path | None:
    """What a mirror does with a path from a peer: check it, then write the file.

    Returns the written path, or None if the path was refused.
    """
    try:
        rel = share_path(raw)
        target = is_inside(share.root, rel)
    except UnsafePathError:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_dir():
            target.write_bytes(b"from a peer")
    except (FileExistsError, NotADirectoryError):
        return None  # an earlier example left a file where this one needs a folder
    return target


@settings(max_examples=600)
@given(any_paths)
def test_property_nothing_resolves_or_is_written_outside_the_share(share: Share, raw: str) -> None:
    root = share.root.resolve()
    written = write_through(share, raw)
    if written is not None:
        real = Path(os.path.realpath(written))
        assert real.is_relative_to(root)
        assert real != root
        assert not real.is_relative_to(root / INTERNAL_DIR)
        assert written == share.root / raw
    assert share.outside_is_untouched()
    assert not (share.root.parent / "victim.txt").exists()


@pytest.mark.parametrize(
    "raw",
    [
        "link/x",
        "real/uplink/outside/x",
        "rootlink/tmp/x",
        "filelink",
        "../outside/x",
        "a/../../outside/x",
        "/tmp/x",
        "..\\outside\\x",
        "C:/x",
        ".p2psync/docs/x",
    ],
)
def test_known_escapes_are_refused(share: Share, raw: str) -> None:
    assert write_through(share, raw) is None
    assert share.outside_is_untouched()


def test_safe_paths_are_written_inside(share: Share) -> None:
    written = write_through(share, "real/b c/\u00e9 \U0001f600.txt")
    assert written == share.root / "real" / "b c" / "\u00e9 \U0001f600.txt"
    assert written.read_bytes() == b"from a peer"
