"""The netns testbed fixture: built for each test, torn down also when it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.testbed import Testbed, TestbedError


@pytest.fixture
def testbed() -> Iterator[Testbed]:
    """A bridge namespace to add hosts to. Fails (never skips) when namespaces cannot
    be made: CI runs these tests as root and must not pass them silently."""
    try:
        bed = Testbed().__enter__()
    except TestbedError as exc:
        pytest.fail(f"cannot build the network-namespace testbed: {exc}", pytrace=False)
    try:
        yield bed
    finally:
        bed.close()
