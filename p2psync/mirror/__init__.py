"""Plain files in a share, mirrored as docs (DESIGN §8; docs/mirror.md).

Pure building blocks: ``kinds`` (text or whole file), ``textdiff`` (a save as Y.Text
edits), ``paths`` (safe share paths), ``ignore`` (``.p2psyncignore``), ``hlc``
(hybrid logical clock), ``manifest`` (the share's root doc: path -> file entry) and
``binary`` (whole-file versions, last writer wins). The I/O edge: ``fileio`` (atomic
writes that never clobber a save), ``scan`` (walking a share folder), ``names`` (how
the folder's filesystem compares names: case, normalisation), ``state``
(what was last synced) and ``engine`` (``Mirror``: reconciles files and docs; the
daemon's ``p2psync.daemon.mirror`` drives it).
"""
