"""A share's docs in memory and the sync engine: decisions over pycrdt, no I/O.

- ``doc``: ``DocReplica``, one document held in memory.
- ``validate``: untrusted Yjs updates applied to a live doc without harming it.
- ``share``: ``ShareReplica``, the docs of one share and their change index.
- ``stored``: answers computed from a doc's stored updates, without loading it.
- ``index``: the persisted index as the engine sees it: what to trust at start-up.
- ``membership``: who is in a share and what each member's mode lets it do.
- ``sync``: ``ShareSync``, the sync engine: events in, effects (persist, send) out.
- ``syncstate``: what the engine's parts share: the replica, the peers' states, modes.
- ``inbound``: a peer's sync messages answered: index, steps 1 and 2, live updates.
- ``localchanges``: changes made on this device (apps, the mirror, other processes).
- ``outbox``: what the engine sends: answers cut to frames, floods, index deltas.
- ``transfer``: what flows with a peer now, both ways (docs and bytes), for progress.
- ``effects``: those effects, which the daemon carries out in order.
- ``peerstate``: what the engine knows of each peer's copy, and whether it is in sync.
- ``peertally``: per peer, the docs not in sync and those it lacks, kept as docs change.
- ``touched``: the keys changed since their one reader last looked.
- ``framing``: the engine's updates and index entries cut to fit frames.
"""
