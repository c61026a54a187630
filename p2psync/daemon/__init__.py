"""The daemon: the one composition root, where the services are built, wired and run.

It may import every layer below it (mirror, replica, net, discovery, watch, protocol,
storage, control); nothing below imports it (docs/architecture.md). Modules:

- ``daemon``: ``Daemon``, which builds the services and runs them in one nursery tree.
- ``shares``: one share at run time: its doc logs and their writers, sync engine, mirror.
- ``newdocs``: many new docs made as one group (a first scan): logs, first updates, timelines.
- ``mirror``: the mirror service of one share: watcher, rescans, remote changes -> ``Mirror``.
- ``deletions``: which files a step of the mirror deleted or brought back.
- ``filehistory``: deletions as versions, deleted files listed, a folder restored at a time.
- ``indexkeeper``: keeps a share's persisted index in step with its sync engine.
- ``residency``: which loaded docs may leave memory (the load/unload policy).
- ``peers``: peer connections: accept, dial with backoff, one link per device, routing.
- ``penalties``, ``pendingrate``: devices kept out after a limit; how fast unknown ones queue.
- ``membership``: invites accepted, member maps exchanged, modes enforced.
- ``memberaddresses``: where members listen, told to each other so that devices that
  joined with mDNS off can dial the others.
- ``invites``, ``joins``: the inviter's open invites; the invite and join methods.
- ``progress``: sync percentages for status, and ``share-in-sync`` events.
- ``apps``: the apps endpoint's rooms (a share's text files) and ``doc url``.
- ``events``: the event bus the control API's subscribers follow.
- ``control``, ``api``: the control socket and its methods (the framing, the home's
  paths, the error table and the client are in ``p2psync.control``, which the CLI and
  the tray app use without loading the daemon).
- ``historyapi``: the control API's ``history.deleted`` and ``restore.at``.
- ``configedits``: config edits shared by the control API and the CLI (no daemon running).

This module imports nothing, so that the CLI can use ``configedits`` without loading
the daemon.
"""
