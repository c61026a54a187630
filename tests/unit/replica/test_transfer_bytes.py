"""The bytes a transfer brings (``Transfer.bytes_expected``), worked out from the
docs still outstanding alone, equal the count over every doc asked after any
sequence of asks and answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p2psync.replica.transfer import Transfer

GUIDS = st.sampled_from([f"doc-{n}" for n in range(8)])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), GUIDS, st.one_of(st.none(), st.integers(0, 500))),
        st.tuples(st.just("answer"), GUIDS, st.integers(0, 300)),
        st.tuples(st.just("arrived"), GUIDS, st.just(0)),
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


@given(STEPS)
def test_the_bytes_expected_equal_a_count_over_every_doc_asked(
    steps: list[tuple[str, str, int | None]],
) -> None:
    t, outstanding = Transfer(), set[str]()
    for step, guid, value in steps:
        if step == "ask" and guid not in outstanding:
            t.ask(guid, outstanding, value)
            outstanding.add(guid)
        elif step == "answer":
            t.answered(guid, b"x" * (value or 0))
        else:
            outstanding.discard(guid)
        assert t.bytes_expected(outstanding) == counted_over_every_doc(t, outstanding)


class Counted(dict[str, int]):
    """A mapping that counts its lookups."""

    looked_up = 0

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]
        self.looked_up += 1
        return super().get(key, default)


def test_the_docs_arrived_whole_are_not_looked_at_again() -> None:
    """A first sync asks for every doc at once, and ``status`` asks for the bytes
    expected every second: only the docs still outstanding are looked at."""
    t, outstanding = Transfer(), set[str]()
    for n in range(1000):
        t.ask(f"doc-{n}", outstanding, 10)
        outstanding.add(f"doc-{n}")
    for n in range(998):
        t.answered(f"doc-{n}", b"x" * 10)
        outstanding.discard(f"doc-{n}")
    t.arrived = Counted(t.arrived)
    assert t.bytes_expected(outstanding) == 10_000
    assert t.arrived.looked_up <= 2
