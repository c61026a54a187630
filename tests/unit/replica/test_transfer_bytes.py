"""The bytes a transfer brings (``Transfer.bytes_expected``), kept as docs are asked
and answered, equal the count over every doc asked after any sequence of asks and
answers of a peer's state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.replica.peerstate import PeerState
from p2psync.replica.transfer import Transfer

GUIDS = st.sampled_from([f"doc-{n}" for n in range(5)])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), GUIDS, st.one_of(st.none(), st.integers(0, 500))),
        st.tuples(st.just("answer"), GUIDS, st.integers(0, 300)),
        st.tuples(st.just("answered"), GUIDS, st.just(0)),
    ),
    max_size=40,
)


def counted_over_every_doc(t: Transfer, outstanding: set[str]) -> int | None:
    """``bytes_expected`` as it was counted before: a pass over every doc asked."""
    total = 0
    for guid in t.asked:
        got = t.arrived.get(guid, 0)
        if guid not in outstanding:
            total += got
            continue
        size = t.announced.get(guid)
        if size is None:
            return None
        total += max(size, got)
    return total


@settings(max_examples=300)
@given(STEPS)
def test_the_bytes_expected_equal_a_count_over_every_doc_asked(
    steps: list[tuple[str, str, int | None]],
) -> None:
    state = PeerState()
    for step, guid, value in steps:
        if step == "ask" and guid not in state.requested:
            if value is None:
                state.sizes.pop(guid, None)
            else:
                state.sizes[guid] = value
            state.ask(guid)
        elif step == "answer":  # a part of its answer
            state.transfer.answered(guid, b"x" * (value or 0))
        elif step == "answered":
            state.answered(guid)
        expected = counted_over_every_doc(state.transfer, state.requested)
        assert state.transfer.bytes_expected() == expected


def test_the_docs_arrived_whole_are_not_looked_at_again() -> None:
    """A first sync asks for every doc at once, and ``status`` asks for the bytes
    expected every second: the docs outstanding are not looked at one by one."""
    state = PeerState()
    for n in range(1000):
        state.sizes[f"doc-{n}"] = 10
        state.ask(f"doc-{n}")
    for n in range(500):
        state.transfer.answered(f"doc-{n}", b"x" * 10)
        state.answered(f"doc-{n}")
    state.transfer.answered("doc-500", b"x" * 4)  # answered in part
    state.transfer.announced = Counted(state.transfer.announced)
    assert state.transfer.bytes_expected() == 10_000
    assert state.transfer.announced.looked_up <= 1


class Counted(dict[str, int | None]):
    """A mapping that counts its lookups."""

    looked_up = 0

    def __getitem__(self, key: str) -> int | None:
        self.looked_up += 1
        return super().__getitem__(key)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        self.looked_up += 1
        return super().get(key, default)
