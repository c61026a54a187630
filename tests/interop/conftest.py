"""Fixtures of the interop tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.nodeapps import NodeApp


@pytest.fixture
def apps() -> Iterator[list[NodeApp]]:
    """The apps a test started (Node apps, browsers), closed at the end."""
    started: list[NodeApp] = []
    yield started
    for app in started:
        app.close()
