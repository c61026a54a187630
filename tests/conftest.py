"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.support.updates import text_updates

pytest_plugins = ["tests.support.fixtures"]

# Hypothesis times each example (200 ms) and the generation of data: on a machine
# whose cores other tests (xdist workers, daemons) keep busy, those are measures of the
# load, not of the code. pytest-timeout still bounds every test.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def updates() -> tuple[list[bytes], str]:
    """Thirty real updates and their final text."""
    return text_updates(30)
