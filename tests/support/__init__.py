"""What the tests and the benchmarks share, imported from here and never from a test module.

- ``daemons``: real daemons as subprocesses on loopback (``Device``), set up in process
  (``setup``) or through the CLI as a user runs it (``cli``), and ``wait_for``.
- ``fixtures``: the fixtures every directory can use (``pair``), a pytest plugin loaded
  by ``tests/conftest.py``.
"""
