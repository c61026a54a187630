"""Filesystem watching: the one place where watchdog's thread crosses into Trio."""

from p2psync.watch.bridge import DirWatcher

__all__ = ["DirWatcher"]
