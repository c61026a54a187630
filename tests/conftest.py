"""Fixtures shared by every test directory."""

from __future__ import annotations

import pycrdt
import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.support.fixtures"]

# Hypothesis times each example (200 ms) and the generation of data: on a machine
# whose cores other tests (xdist workers, daemons) keep busy, those are measures of the
# load, not of the code. pytest-timeout still bounds every test.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def text_updates(count: int, *, client_id: int = 1, text: str = "edit ") -> tuple[list[bytes], str]:
    """Return ``count`` real Yjs v1 updates (one insert each) and the text they build."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
    content = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(count):
        content.insert(len(content), f"{text}{i} ")
    return updates, str(content)


def text_of(update: bytes) -> str:
    """The ``content`` text of the doc that ``update`` (a full state) describes."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get("content", type=pycrdt.Text))


@pytest.fixture
def updates() -> tuple[list[bytes], str]:
    """Thirty real updates and their final text."""
    return text_updates(30)
