"""What the tests and the benchmarks share, imported from here and never from a test module.

- ``daemons``: real daemons as subprocesses on loopback (``Device``), set up in process
  (``setup``) or through the CLI as a user runs it (``cli``), and ``wait_for``.
- ``forkserver``: daemons forked from a Python that has imported the daemon once.
- ``fixtures``: the fixtures every directory can use (``pair``), a pytest plugin loaded
  by ``tests/conftest.py``.
- ``mirror``: fakes and probes for the mirror: an in-memory store, a manifest entry, a
  peer's new file, what a device's folder holds.
- ``chunkedmirror``: two in-process mirrors with in-memory stores, for chunked files.
- ``chunkeddaemons``: real daemons with lowered chunking thresholds.
- ``probes``: probes of real daemons: files synced, saves taken, a share's status and
  members.
- ``history``: file history on real daemons as the CLI lists it.
- ``manyfiles``: a first scan and a first sync of many files on real daemons.
- ``apps``: the apps endpoint on real daemons: a doc's URL, the ``pair`` fixture.
- ``boards``: an app doc (``board.ydoc``) written, read back and synced.
- ``watching``: a ``DirWatcher`` on real folders for the length of a test.
- ``widgets``: Qt widgets shown and laid out for a look at their geometry.
- ``connections``: protocol connections on a fake wire, with device identities.
- ``appedits``: random app edits of a doc replica, and what the doc holds.
- ``interrupts``: commands a test stops with SIGINT, started with SIGINT at its default.
- ``hostile``: a hostile peer (``Mallory``) with a real identity, writing raw bytes to
  a live daemon, and scenes of daemons for it to attack.
- ``junk``: seeded malformed frames and mutated Yjs updates, for fuzzing a live daemon.
- ``snapshot``: snapshot files of CLI output (``tests/integration/cli/snapshots``),
  compared or rewritten, and what varies between runs normalised.
- ``updates``: real Yjs updates of a text doc, and the text a doc's state holds.
- ``tray``: the tray app's tests' helpers: a running pair, a fast tray, its menus.
- ``testbed``: the network-namespace testbed (root only): hosts on a bridge, a daemon
  on each.
"""
