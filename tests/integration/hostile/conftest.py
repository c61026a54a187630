"""Fixtures of the hostile-input tests (the scene is built in ``tests/support/hostile.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile import Scene, scene_at


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    """Alice and bob running and in sync on notes.md; mallory a member of the share."""
    with scene_at(tmp_path) as made:
        yield made
