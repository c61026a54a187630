"""Member maps converge; modes gate what the sync engine applies, forwards and asks."""

from __future__ import annotations

import itertools

import pycrdt
from hypothesis import given
from hypothesis import strategies as st

from p2psync.config import FolderMode
from p2psync.protocol.messages import (
    MAX_SEQUENCE,
    DocError,
    Index,
    IndexEntry,
    IndexRequest,
    MemberEntry,
    SyncStep1,
    Update,
)
from p2psync.protocol.yjs import DocVersion
from p2psync.replica.effects import Persist, Send, Tell
from p2psync.replica.membership import (
    MAX_MEMBERS,
    REMOVED,
    MemberMap,
    MemberPolicy,
    may_change_members,
)
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync

SHARE = b"s" * 16
A, B, C, D = (bytes([n]) * 32 for n in b"abcd")
SR, RO, SO = FolderMode.SEND_RECEIVE, FolderMode.RECEIVE_ONLY, FolderMode.SEND_ONLY


def test_reconcile_seeds_then_stamps_local_changes() -> None:
    member_map = MemberMap()
    assert member_map.reconcile({B: SR, A: SR}, us=A, seed=True)
    assert member_map.entries[B].clock == 0
    assert A not in member_map.entries
    assert member_map.reconcile({B: RO, C: SR}, us=A, seed=False)
    assert member_map.members() == {B: RO, C: SR}
    assert min(member_map.entries[B].clock, member_map.entries[C].clock) >= 1
    assert member_map.reconcile({C: SR}, us=A, seed=False)  # B removed by hand
    assert member_map.mode_of(B) == REMOVED
    assert not member_map.reconcile({C: SR}, us=A, seed=False)


def test_a_newer_entry_wins_and_a_removal_is_an_entry() -> None:
    ours = MemberMap()
    ours.set(B, SR.value, setter=A)
    theirs = MemberMap()
    theirs.merge(ours.to_entries())
    theirs.set(B, REMOVED, setter=C)
    assert ours.merge(theirs.to_entries())
    assert ours.members() == {}
    assert not ours.merge(theirs.to_entries())  # nothing new
    ours.set(B, RO.value, setter=A)  # re-added later: wins over the removal
    theirs.merge(ours.to_entries())
    assert theirs.members() == {B: RO}


def test_clocks_cannot_be_pushed_past_the_wire_limit() -> None:
    member_map = MemberMap()
    member_map.merge([MemberEntry(B, SR.value, MAX_SEQUENCE, C)])
    member_map.set(D, SR.value, setter=A)
    assert member_map.entries[D].clock == MAX_SEQUENCE


def test_the_map_is_bounded() -> None:
    member_map = MemberMap()
    entries = [
        MemberEntry(i.to_bytes(32, "big"), "send-receive", 1, A) for i in range(MAX_MEMBERS + 5)
    ]
    member_map.merge(entries)
    assert len(member_map.entries) == MAX_MEMBERS


edits = st.lists(
    st.tuples(st.sampled_from([A, B, C]), st.sampled_from([B, C, D]),
              st.sampled_from([SR.value, RO.value, SO.value, REMOVED])),
    max_size=12,
)  # fmt: skip


@given(edits)
def test_members_merging_in_any_order_end_with_one_map(
    changes: list[tuple[bytes, bytes, str]],
) -> None:
    maps = {device: MemberMap() for device in (A, B, C)}
    for setter, device, mode in changes:  # each edit is local, with what that member saw
        maps[setter].set(device, mode, setter=setter)
    results = []
    for order in itertools.permutations(maps.values()):
        merged = MemberMap()
        for member_map in order:
            merged.merge(member_map.to_entries())
        results.append(merged.entries)
    assert all(result == results[0] for result in results)


def test_only_send_receive_members_may_change_members() -> None:
    assert may_change_members(SR)
    assert not may_change_members(RO)
    assert not may_change_members(SO)
    assert not may_change_members(None)


def text_update(client: int, text: str) -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc.get_update()


def engine(policy: MemberPolicy) -> ShareSync:
    sync = ShareSync(ShareReplica(SHARE))
    sync.change_policy(policy)
    for peer in ("ro", "sr", "so"):
        sync.peer_up(peer)
    return sync


def test_a_receive_only_peer_is_refused_told_once_and_not_forwarded() -> None:
    sync = engine(MemberPolicy(SR, {"ro": RO, "sr": SR, "so": SO}))
    first = sync.receive("ro", Update(SHARE, "doc", [text_update(1, "ro")]))
    assert len(first) == 1
    assert isinstance(first[0], Tell)
    assert isinstance(first[0].message, DocError)
    assert first[0].message.code == "receive-only"
    assert sync.receive("ro", Update(SHARE, "doc", [text_update(2, "again")])) == []
    assert "doc" not in sync.replica
    # Its index is never asked about, but it still gets our changes.
    entry = IndexEntry("doc", 1, DocVersion({1: 2}, bytes(16)))
    assert sync.receive("ro", Index(SHARE, b"i" * 8, 1, (entry,))) == []
    effects = sync.receive("sr", Update(SHARE, "doc", [text_update(3, "sr")]))
    assert isinstance(effects[0], Persist)
    sent_to = {e.peer for e in effects if isinstance(e, Send)}
    assert sent_to == {"ro"}  # forwarded to the receive-only peer, not to the send-only one


def test_a_send_only_device_ignores_remote_changes_but_sends_its_own() -> None:
    sync = engine(MemberPolicy(SO, {"ro": SR, "sr": SR, "so": SR}))
    assert sync.receive("sr", Update(SHARE, "doc", [text_update(1, "remote")])) == []
    assert "doc" not in sync.replica
    effects = sync.local_update("mine", text_update(2, "local"))
    assert {e.peer for e in effects if isinstance(e, Send)} == {"ro", "sr", "so"}


def test_in_sync_follows_the_direction_changes_flow() -> None:
    ours, more = DocVersion({1: 3}, bytes(16)), DocVersion({1: 3, 2: 1}, b"\x01" * 16)
    both = MemberPolicy(SR, {"p": SR})
    assert both.in_sync("p", ours, ours)
    assert not both.in_sync("p", ours, more)
    to_ro = MemberPolicy(SR, {"p": RO})  # it must hold ours; its own extras do not count
    assert to_ro.in_sync("p", ours, more)
    assert not to_ro.in_sync("p", more, ours)
    from_so = MemberPolicy(SR, {"p": SO})  # we must hold its; ours do not count
    assert from_so.in_sync("p", more, ours)
    assert not from_so.in_sync("p", ours, more)
    assert MemberPolicy(RO, {"p": RO}).in_sync("p", ours, more)  # nothing flows


def test_an_empty_doc_is_in_sync_with_a_side_that_lacks_it() -> None:
    empty, ours = DocVersion({}, bytes(16)), DocVersion({1: 3}, bytes(16))
    for theirs in (RO, SR, SO):
        policy = MemberPolicy(SR, {"p": theirs})
        assert policy.in_sync("p", empty, None)  # a leftover log here
        assert policy.in_sync("p", None, empty)  # one there
        assert policy.in_sync("p", empty, empty)
    assert not MemberPolicy(SR, {"p": SR}).in_sync("p", empty, ours)
    assert not MemberPolicy(SR, {"p": SR}).in_sync("p", ours, None)


def test_what_a_receive_only_peer_kept_is_asked_for_once_it_may_send() -> None:
    # Refused while "ro" was receive-only, its change stays on its side, and its index
    # announced it already: made send-receive, a connected peer is asked for it at once,
    # and one that is not connected brings its whole index again on its next link.
    sync = engine(MemberPolicy(SR, {"ro": RO, "sr": SR, "so": SO}))
    kept = IndexEntry("doc", 1, DocVersion({1: 2}, bytes(16)))
    assert sync.receive("ro", Index(SHARE, b"i" * 8, 1, (kept,))) == []
    sync.peer_down("sr")
    assert sync.change_policy(MemberPolicy(SR, {"ro": RO, "sr": SR, "so": SO})) == []
    asked = sync.change_policy(MemberPolicy(SR, {"ro": SR, "sr": SR, "so": SO}))
    assert [(e.peer, e.message) for e in asked if isinstance(e, Send)] == [
        ("ro", SyncStep1(SHARE, "doc", sync.replica.state_vector("doc")))
    ]
    assert sync.change_policy(MemberPolicy(SR, {"ro": SR, "sr": SR, "so": SO})) == []  # asked
    sync.peer_down("ro")
    sync.change_policy(MemberPolicy(SR, {"ro": RO, "sr": SR, "so": SO}))
    sync.change_policy(MemberPolicy(SR, {"ro": SR, "sr": SR, "so": SO}))
    assert sync.peer_up("ro") == [Send("ro", IndexRequest(SHARE, b"", 0))]  # the whole index
