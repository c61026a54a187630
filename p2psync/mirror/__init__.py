"""Plain files in a share, mirrored as docs (docs/mirror.md).

Pure building blocks:

- ``kinds``: how a file is synced: as text, whole, or as an app doc.
- ``ydocfile``: app docs (``.ydoc``): which bytes merge, what they add, when the
  file is written again.
- ``textdiff``: a local save of a text file as the smallest ``Y.Text`` edits.
- ``erased``: what a doc's text lost since an older state of it, for a save merged
  against that state.
- ``union``: two versions of one text with no shared history, merged line by line.
- ``paths``: the one gate every share path from a peer or from disk goes through.
- ``ignore``: which paths are not synced (``.p2psyncignore`` and built-ins).
- ``hlc``: the hybrid logical clock that orders whole-file versions.
- ``manifest``: the share's root doc, mapping share paths to file entries.
- ``binary``: whole files in a doc, last writer wins.
- ``revival``: which deleted files come back (an edit concurrent with a delete).
- ``chunked``: a large text as a root doc plus chunk docs.
- ``chunkexport``: what ``doc export`` gives for a chunked file.

The I/O edge:

- ``fileio``: read, atomic write, rename, delete; writes that never clobber a save.
- ``scan``: walking a share folder.
- ``names``: how the folder's filesystem compares names (case, normalisation).
- ``state``: what was last synced per path: durable sync records, written ahead.
- ``records``: one sync record on disk, and whether a write a crash cut off happened.
- ``viewcache``: the manifest's entries kept between runs for the next start.
- ``chunkbases``: a chunked file's layout in its sync record (its merge bases).
- ``chunkfile``, ``chunkscan``: large text files as chunked docs; reading their saves.
- ``chunkscratch``: scratch copies of a chunked file's docs its edits are made on.
- ``chunklayout``, ``chunkwrite``: a chunked file's layout; writing it from one.
- ``chunklist``: a chunked file's root that lost its chunk list: told apart, listed again.
- ``patch``: in-place patches of a chunked file's tail, behind a write-ahead record.
- ``overwrite``: saves that overwrote the daemon's write, kept as conflict copies.
- ``conflicts``: the copies of versions that lost, under names people read.
- ``problems``: what keeps a share's files from being in sync, path by path.
- ``applycheck``: the paths a doc update may not be applied to (a folder, a binary file).
- ``leftovers``: the empty logs a crash left before a new doc's first update.
- ``content``: what a file's doc holds; the scratch-doc update a save merges by.
- ``classify``: what ``reconcile`` does with a path, decided without I/O.
- ``store``: what the mirror needs of its share (``DocStore``).

The engine: ``Mirror`` (``engine``), which reconciles files and docs and which
``p2psync.daemon.mirror`` drives, is a façade over parts with one job each:

- ``ledger``: what was synced per path (the records, the inode index).
- ``keeper``: the manifest as the mirror reads and edits it.
- ``saves``: a save into its doc, and a doc out to its file.
- ``newfiles``: plain new files taken in as groups (a first scan).
- ``newwrites``: peers' plain new files written as groups (a first sync).
- ``creates``: one file with no doc to follow (a new doc, or a file back).
- ``chunkpaths``: chunked files written and read without holding them whole.
- ``renames``: renames and deletes, here and by peers.
- ``collisions``: paths two entries claim.
- ``host``: what the parts need of the ``Mirror`` (``Host``).
- ``engine``: ``Mirror`` itself: the entry points and ``reconcile``.
"""
