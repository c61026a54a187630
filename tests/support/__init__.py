"""What the tests and the benchmarks share, imported from here and never from a test module.

- ``daemons``: real daemons as subprocesses on loopback (``Device``), set up in process
  (``setup``) or through the CLI as a user runs it (``cli``), and ``wait_for``.
- ``fixtures``: the fixtures every directory can use (``pair``), a pytest plugin loaded
  by ``tests/conftest.py``.
- ``mirror``: fakes and probes for the mirror: an in-memory store, a peer's new file,
  what a device's folder holds.
- ``chunkedmirror``: two in-process mirrors with in-memory stores, for chunked files.
- ``chunkeddaemons``: real daemons with lowered chunking thresholds.
- ``probes``: probes of real daemons: files synced, saves taken, a share's status.
- ``testbed``: the network-namespace testbed (root only): hosts on a bridge, a daemon
  on each.
"""
