"""p2psync-tray: the tray app of p2psync (Qt 6 via PySide6, the ``tray`` extra).

It talks to the daemon only through the control API client
(``p2psync.control.client``). Modules, bottom up:

- ``state``: the tray's overall state and its anti-flicker filter (no Qt).
- ``describe``: words and numbers for people: states, bytes, times (no Qt).
- ``notifications``: which events become desktop notifications (no Qt).
- ``link``: the worker threads that poll the daemon and follow its events, as Qt signals.
- ``invitecheck``: what the join dialog says about a pasted invite code (no Qt).
- ``settings``, ``launcher``, ``icons``: persisted switches, starting ``p2psync run``, icons.
- ``invites``: the invite and join dialogs.
- ``manage``: the dialogs that change the daemon's config: add a shared folder, remove
  a share or forget a device (asked first), a share's members and their modes.
- ``models``, ``window``: the status window's tables and the window itself.
- ``history``: the History window of a share: files, versions, a coloured diff, Restore.
- ``dialogs``: the tray's dialogs, one of each at a time, and its confirmations.
- ``asks``: the tray's one-request actions: pause, resume, accept, name, rename.
- ``tray``: the tray icon and its menu, wiring everything together.
- ``app``: the QApplication and its event loop around ``tray``.
- ``__main__``: the ``p2psync-tray`` entry point; no Qt until it knows Qt loads.
"""
