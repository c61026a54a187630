"""The daemon: the one composition root, where the services are built, wired and run.

It may import every layer below it (mirror, replica, net, discovery, watch, protocol,
storage, control); nothing below imports it (docs/architecture.md). Modules:

- ``daemon``: ``Daemon``, which builds the services and runs them in one nursery tree;
  nothing else in the package imports it.
- ``registry``: ``ShareRegistry``, the config and the running shares (start, stop,
  config changes), which the control API, joins, membership and apps depend on.
- ``shares``: one share at run time: its inputs, sync engine, effects and mirror.
- ``sharereceive``, ``localwrites``: a member's message taken into a share; local
  changes (the mirror's saves and new files, apps' updates) stored durably.
- ``arrivals``: new docs from peers (a first sync) stored as groups, one group
  commit each.
- ``shareeffects``, ``sharecalls``: the sync engine's effects carried out, the mirror
  and app clients told of changes; calls into a share counted and refused as it stops.
- ``doclogs``: the logs of a share's loaded docs: writers, recovery, quarantine, compaction.
- ``logappends``: what other processes append to a share's logs (or delete, or replace).
- ``logreplies``: peers' questions about unloaded docs, answered from their logs in batches.
- ``unloader``: idle docs leave memory; the index written as a share stops.
- ``memtrim``: memory freed by unloaded docs handed back to the system (glibc).
- ``sharefolders``: whether a share's folder may be made, or must be there, at its start.
- ``sharehistory``: a share's file history: timelines, versions' texts, restores.
- ``chunkhistory``: the versions of chunked (large) text files, recorded and restored.
- ``historyshare``: what the file history needs of its share (``HistoryShare``).
- ``wholehistory``: the versions of binary files and app docs: sizes, contents, restores.
- ``sharestatus``: what ``status`` says of one share by itself.
- ``unwritten``: the files whose doc is here that the mirror has not written, kept
  from one ``status`` to the next.
- ``newdocs``: many new docs made as one group (a first scan): logs, first updates, timelines.
- ``mirror``: the mirror service of one share: watcher, rescans, remote changes -> ``Mirror``.
- ``deletions``: which files a step of the mirror deleted or brought back.
- ``filehistory``: deletions as versions, deleted files listed, a folder restored at a time.
- ``indexkeeper``: keeps a share's persisted index in step with its sync engine.
- ``residency``: which loaded docs may leave memory (the load/unload policy).
- ``peers``: peer connections: one link per device, the queue to it, pause, index flushes.
- ``links``: one connection run as a device's link: sender, receiver, tie-break, routing.
- ``sendbatch``: what a link's sender writes at once: what is queued, framed together.
- ``dialer``, ``acceptor``: dialing with backoff and the addresses dialed; incoming
  handshakes, who may link, pending devices.
- ``peerinfo``: a link, what is known of a device, why its last link failed.
- ``penalties``, ``pendingrate``: devices kept out after a limit; how fast unknown ones queue.
- ``membership``: invites accepted, member maps exchanged, modes enforced.
- ``memberaddresses``: where members listen, told to each other so that devices that
  joined with mDNS off can dial the others.
- ``invites``, ``joins``: the inviter's open invites; the invite and join methods.
- ``progress``: sync percentages for status, and ``share-in-sync`` events.
- ``apps``: the apps endpoint's rooms (a share's text files and ``.ydoc`` app docs) and ``doc url``.
- ``events``: the event bus the control API's subscribers follow.
- ``control``, ``api``, ``controlhost``, ``statusreplies``: the control socket, its
  methods, what they need of the daemon, the status replies (the framing, the home's
  paths, the error table and the client are in ``p2psync.control``, which the CLI and
  the tray app use without loading the daemon).
- ``historyapi``: the control API's ``history.files``, ``history.deleted`` and ``restore.at``.
- ``configedits``: config edits shared by the control API and the CLI (no daemon running).

This module imports nothing, so that the CLI can use ``configedits`` without loading
the daemon.
"""
