"""textdiff: local saves become small, correct Y.Text edits in UTF-8 byte offsets."""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import compress, count, islice, product

import pycrdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.mirror import textdiff
from p2psync.mirror.textdiff import (
    Erased,
    TextEdit,
    apply_text_change,
    common_prefix_len,
    common_suffix_len,
    myers,
    text_edits,
)

# Text without lone surrogates (which no UTF-8 file can hold), mixing ASCII, line
# breaks of every kind, accents, combining marks, CJK and astral (4-byte) characters.
TEXT_ALPHABET = st.characters(codec="utf-8")
SMALL_ALPHABET = st.sampled_from(["a", "b", "\n", "\r\n", "é", "e\u0301", "中", "😀", "𝄞", " "])
texts = st.text(TEXT_ALPHABET, max_size=60)
small_texts = st.lists(SMALL_ALPHABET, max_size=40).map("".join)


def doc_with(text: str) -> tuple[pycrdt.Doc[pycrdt.Text], pycrdt.Text]:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    content = doc.get("content", type=pycrdt.Text)
    content += text
    return doc, content


def apply_edits(old: str, edits: list[TextEdit]) -> str:
    """Apply edits to the UTF-8 bytes of ``old``, independently of pycrdt."""
    data = old.encode()
    for edit in edits:
        data = data[: edit.position] + edit.insert.encode() + data[edit.position + edit.delete :]
    return data.decode()


# pycrdt's index units, the premise of the whole module


def test_pycrdt_text_indices_are_utf8_byte_offsets() -> None:
    _, content = doc_with("a😀b")
    assert len(content) == 6  # 1 + 4 + 1 bytes
    content.insert(5, "X")  # after the emoji: byte 5, code point 2
    assert str(content) == "a😀Xb"
    del content[1:5]  # the emoji's four bytes
    assert str(content) == "aXb"


# text_edits, the pure part


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "", []),
        ("same", "same", []),
        ("", "new", [TextEdit(0, 0, "new")]),
        ("gone", "", [TextEdit(0, 4, "")]),
        ("hello world", "hello brave world", [TextEdit(6, 0, "brave ")]),
        ("😀a", "😀b", [TextEdit(4, 1, "b")]),
        ("中文", "中国文", [TextEdit(3, 0, "国")]),
        ("e\u0301x", "e\u0301\u0301x", [TextEdit(3, 0, "\u0301")]),
        ("a\r\nb\r\n", "a\r\nc\r\n", [TextEdit(3, 1, "c")]),
        ("a\nb", "a\r\nb", [TextEdit(1, 0, "\r")]),
        ("𝄞x𝄞", "𝄞𝄞", [TextEdit(4, 1, "")]),
    ],
)
def test_text_edits_examples(old: str, new: str, expected: list[TextEdit]) -> None:
    assert text_edits(old, new) == expected


def test_edits_never_split_a_character() -> None:
    # é (2 bytes) -> è (2 bytes) share their first UTF-8 byte: a byte diff would cut it.
    edits = text_edits("café", "cafè")
    assert edits == [TextEdit(3, 2, "è")]


def test_positions_count_earlier_edits() -> None:
    edits = text_edits("one two three four five", "ONE two three four FIVE")
    assert [e.position for e in edits] == sorted(e.position for e in edits)
    assert apply_edits("one two three four five", edits) == "ONE two three four FIVE"
    assert len(edits) == 2


def test_a_rewritten_word_is_one_edit_not_a_letter_spray() -> None:
    edits = text_edits("the quick fox", "the slow fox")
    assert len(edits) == 1
    assert apply_edits("the quick fox", edits) == "the slow fox"


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_changed_lines_far_apart_are_separate_small_edits(
    monkeypatch: pytest.MonkeyPatch, line_end: str
) -> None:
    # A character diff of everything between the two changes would exceed this budget:
    # the lines must be found as lines, whatever ends them.
    monkeypatch.setattr(textdiff, "CHAR_DIFF_BUDGET", 1000)
    lines = [f"line {i}{line_end}" for i in range(2000)]
    changed = list(lines)
    changed[10] = f"line ten{line_end}"
    changed[1990] = f"line 1990!{line_end}"
    old, new = "".join(lines), "".join(changed)
    edits = text_edits(old, new)
    assert len(edits) == 2
    assert sum(e.delete + len(e.insert) for e in edits) < 20
    assert apply_edits(old, edits) == new


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        text_edits("a", "a\udc80")


@given(texts, texts)
@settings(max_examples=400)
def test_property_edits_turn_old_into_new(old: str, new: str) -> None:
    assert apply_edits(old, text_edits(old, new)) == new


@given(small_texts, small_texts)
@settings(max_examples=400)
def test_property_edits_turn_old_into_new_multiline(old: str, new: str) -> None:
    assert apply_edits(old, text_edits(old, new)) == new


@given(small_texts, st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3), small_texts)))
def test_property_few_changes_give_few_edits(old: str, changes: list[tuple[int, int, str]]) -> None:
    # Not at most one edit per change: in text of repeated short pieces a minimal
    # character diff may split one change in two (a deletion of "\r\n" placed at
    # another copy of it). Twice as many held in 300,000 random cases; once as many
    # failed in 1 of 160 before short runs of equal lines were folded, 1 of 3,800 after.
    new = old
    for wanted, cut, insert in changes:
        at = min(wanted, len(new))
        new = new[:at] + insert[:3] + new[at + cut :]
    edits = text_edits(old, new)
    assert apply_edits(old, edits) == new
    assert len(edits) <= 2 * len(changes)


def test_changes_between_short_repeated_lines_are_not_split() -> None:
    # Found by the property above: the line diff paired the wrong blank line, which
    # gave three edits for two insertions; diffed by character together, two.
    old = "\r\n\naaaa"
    new = "\ra\n\naaaab"
    edits = text_edits(old, new)
    assert apply_edits(old, edits) == new
    assert [(e.delete, e.insert) for e in edits] == [(0, "a"), (0, "b")]


# apply_text_change, on a real pycrdt Text


@given(texts, texts)
@settings(max_examples=300)
def test_property_apply_to_a_doc_gives_new(old: str, new: str) -> None:
    _, content = doc_with(old)
    count = apply_text_change(content, old, new)
    assert str(content) == new
    assert count == len(text_edits(old, new))


@given(small_texts, small_texts)
@settings(max_examples=300)
def test_property_apply_multiline_to_a_doc_gives_new(old: str, new: str) -> None:
    _, content = doc_with(old)
    apply_text_change(content, old, new)
    assert str(content) == new


def test_apply_is_one_transaction_of_its_own() -> None:
    doc, content = doc_with("alpha beta gamma")
    seen: list[bytes] = []
    doc.observe(lambda event: seen.append(event.update))
    assert apply_text_change(content, "alpha beta gamma", "ALPHA beta GAMMA") == 2
    assert len(seen) == 1


def test_apply_joins_the_callers_transaction() -> None:
    doc, content = doc_with("one")
    seen: list[bytes] = []
    doc.observe(lambda event: seen.append(event.update))
    with doc.transaction():
        apply_text_change(content, "one", "one two")
        content.insert(0, ">")
    assert len(seen) == 1
    assert str(content) == ">one two"


def test_apply_to_a_text_holding_something_else_changes_nothing() -> None:
    _, content = doc_with("actual")
    with pytest.raises(ValueError, match="not the"):
        apply_text_change(content, "expected something", "new")
    assert str(content) == "actual"


def test_apply_equal_texts_makes_no_edit() -> None:
    doc, content = doc_with("same")
    seen: list[bytes] = []
    doc.observe(lambda event: seen.append(event.update))
    assert apply_text_change(content, "same", "same") == 0
    assert seen == []


def test_concurrent_edits_of_different_lines_merge() -> None:
    base = "".join(f"line {i}\n" for i in range(50))
    doc_a, text_a = doc_with(base)
    doc_b: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc_b.apply_update(doc_a.get_update())
    text_b = doc_b.get("content", type=pycrdt.Text)
    new_a = base.replace("line 3\n", "line three\n")
    new_b = base.replace("line 40\n", "line forty 😀\n")
    apply_text_change(text_a, base, new_a)
    apply_text_change(text_b, base, new_b)
    doc_a.apply_update(doc_b.get_update(doc_a.get_state()))
    doc_b.apply_update(doc_a.get_update(doc_b.get_state()))
    merged = base.replace("line 3\n", "line three\n").replace("line 40\n", "line forty 😀\n")
    assert str(text_a) == str(text_b) == merged


# Size and the work budget


def one_mb_text() -> str:
    rng = random.Random(4)
    words = ["alpha", "beta", "délta", "中文", "😀", "lorem", "ipsum", "x"]
    lines = []
    size = 0
    while size < 1_000_000:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) + "\n"
        lines.append(line)
        size += len(line.encode())
    return "".join(lines)


def test_one_line_change_in_a_megabyte_is_a_small_update() -> None:
    old = one_mb_text()
    lines = old.splitlines(keepends=True)
    lines[len(lines) // 2] = "a changed line, with 😀 and 中文\n"
    new = "".join(lines)
    doc, content = doc_with(old)
    before = doc.get_state()
    assert apply_text_change(content, old, new) >= 1
    update = doc.get_update(before)
    assert len(update) < 1024
    assert str(content) == new


def test_over_budget_line_diff_replaces_the_middle_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textdiff, "LINE_DIFF_BUDGET", 10)
    old = "".join(f"{i}\n" for i in range(100))
    new = "".join(f"{i}!\n" for i in range(100))
    edits = text_edits(old, new)
    assert len(edits) == 1
    assert apply_edits(old, edits) == new


def test_over_budget_char_diff_replaces_the_block_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textdiff, "CHAR_DIFF_BUDGET", 3)
    old, new = "abcdefghijklmnop", "aXcdeYghijkZmnoW"
    edits = text_edits(old, new)
    assert edits == [TextEdit(1, 15, "XcdeYghijkZmnoW")]


@given(st.lists(st.integers(0, 3), max_size=30), st.lists(st.integers(0, 3), max_size=30))
def test_property_myers_regions_are_a_shortest_edit(a: list[int], b: list[int]) -> None:
    regions = myers(a, b, 10**9)
    assert regions is not None
    rebuilt: list[int] = []
    done = 0
    for a0, a1, b0, b1 in regions:
        assert a0 >= done
        rebuilt += a[done:a0] + b[b0:b1]
        done = a1
    rebuilt += a[done:]
    assert rebuilt == b
    # The edit distance (inserts + deletes) is minimal: n + m - 2 * LCS.
    cost = sum((a1 - a0) + (b1 - b0) for a0, a1, b0, b1 in regions)
    assert cost == len(a) + len(b) - 2 * lcs_length(a, b)


def lcs_length(a: list[int], b: list[int]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b):
            diagonal, row[j + 1] = row[j + 1], (diagonal + 1 if x == y else max(row[j + 1], row[j]))
    return row[-1]


@given(st.text(max_size=300), st.text(max_size=300))
def test_property_common_prefix_and_suffix(a: str, b: str) -> None:
    p = common_prefix_len(a, b)
    assert a[:p] == b[:p]
    assert p == min(len(a), len(b)) or a[p] != b[p]
    limit = min(len(a), len(b)) - p
    s = common_suffix_len(a, b, limit)
    assert s <= limit
    assert a[len(a) - s :] == b[len(b) - s :]
    assert s == limit or a[len(a) - s - 1] != b[len(b) - s - 1]


# No retyped characters, and whole lines edited as whole lines. A save that only
# inserted lines was diffed into "delete the '0111' of 'tok-000111', retype it with the
# new lines"; a peer's concurrent line insertion anchored on those characters then
# landed inside a line, the same on every device ("tok-00022" / "tok-0001111").

LINE_ENDS = ("\n", "\r\n", "\r")
# Lines sharing long prefixes, where a trimmed common prefix ends inside a line, and
# short lines that repeat (blank lines, a lone brace).
TOKENS = ["tok-000" + "".join(digits) for digits in product("012", repeat=3)]
SHORT_LINES = ["", "}", "{"]


@dataclass(frozen=True)
class LineSave:
    """A save that inserts fresh lines into ``old`` and deletes some of its lines,
    never next to each other; ``inserted`` and ``deleted`` count those characters."""

    old: str
    new: str
    inserted: int
    deleted: int


@st.composite
def line_saves(draw: st.DrawFn, kinds: str, unique: bool = False) -> LineSave:
    """Whole-line insertions and/or deletions (``kinds``), on old lines that repeat
    unless ``unique``."""
    end = draw(st.sampled_from(LINE_ENDS))
    pool = st.sampled_from(TOKENS + SHORT_LINES)
    old_lines = [line + end for line in draw(st.lists(pool, max_size=12, unique=unique))]
    kept = [not ("delete" in kinds and draw(st.booleans())) for _ in old_lines]
    new_lines: list[str] = []
    fresh = (f"tok-00{n}{end}" for n in count(1000))
    for i in range(len(old_lines) + 1):
        # Only between kept lines: next to a deleted line, an inserted line would
        # replace it, which is a changed line, diffed by character.
        if "insert" in kinds and (i == 0 or kept[i - 1]) and (i == len(kept) or kept[i]):
            new_lines += islice(fresh, draw(st.integers(0, 2)))
        if i < len(old_lines) and kept[i]:
            new_lines.append(old_lines[i])
    kept_size = sum(map(len, compress(old_lines, kept)))
    return LineSave(
        "".join(old_lines),
        "".join(new_lines),
        inserted=sum(map(len, new_lines)) - kept_size,
        deleted=sum(map(len, old_lines)) - kept_size,
    )


def edit_steps(old: str, edits: list[TextEdit]) -> list[tuple[bytes, TextEdit]]:
    """Each edit with the UTF-8 text it applies to (after the earlier edits)."""
    steps = []
    data = old.encode()
    for edit in edits:
        steps.append((data, edit))
        data = data[: edit.position] + edit.insert.encode() + data[edit.position + edit.delete :]
    return steps


def starts_line(text: bytes, position: int) -> bool:
    if position == 0:
        return True
    before = text[position - 1 : position]
    return before == b"\n" or (before == b"\r" and text[position : position + 1] != b"\n")


@given(line_saves("insert delete"))
@settings(max_examples=500)
def test_property_line_saves_retype_nothing(save: LineSave) -> None:
    edits = text_edits(save.old, save.new)
    assert apply_edits(save.old, edits) == save.new
    # A retyped character would count both as deleted and as inserted (all ASCII, so
    # bytes are characters).
    assert sum(e.delete for e in edits) <= save.deleted
    assert sum(len(e.insert) for e in edits) <= save.inserted


@given(st.sampled_from(["insert", "delete", "insert delete"]).flatmap(
    lambda kinds: line_saves(kinds, unique=True)
))  # fmt: skip
@settings(max_examples=500)
def test_property_line_saves_are_whole_line_edits(save: LineSave) -> None:
    edits = text_edits(save.old, save.new)
    assert apply_edits(save.old, edits) == save.new
    for text, edit in edit_steps(save.old, edits):
        assert not (edit.delete and edit.insert), edit  # nothing deleted and retyped
        assert starts_line(text, edit.position), edit
        after = text[: edit.position] + edit.insert.encode() + text[edit.position + edit.delete :]
        # the edit ends at a line start too, in the text before it and after it
        assert starts_line(text, edit.position + edit.delete), edit
        assert starts_line(after, edit.position + len(edit.insert.encode())), edit


def merged(base: str, new_a: str, new_b: str, a_id: int, b_id: int) -> str:
    """What two devices hold once each saved from ``base`` (device A ``new_a``, device
    B ``new_b``) through ``apply_text_change`` and they exchanged updates. Concurrent
    insertions at one place are ordered by client id, hence the ids."""
    origin: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=3)
    origin.get("content", type=pycrdt.Text).insert(0, base)
    docs = []
    for client_id, new in ((a_id, new_a), (b_id, new_b)):
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
        doc.apply_update(origin.get_update())
        apply_text_change(doc.get("content", type=pycrdt.Text), base, new)
        docs.append(doc)
    a, b = docs
    a.apply_update(b.get_update(a.get_state()))
    b.apply_update(a.get_update(b.get_state()))
    text_a, text_b = (str(doc.get("content", type=pycrdt.Text)) for doc in docs)
    assert text_a == text_b
    return text_a


@pytest.mark.parametrize(("a_id", "b_id"), [(1, 2), (2, 1)])
def test_inserted_lines_take_no_peer_insertion_inside_a_line(a_id: int, b_id: int) -> None:
    # Before lines were kept whole, A's save was "at 'tok-000|111' delete '0111',
    # insert '1111\ntok-000111\ntok-000000'" and B's "at 'tok-000|111' insert
    # '022\ntok-000'": merged, "tok-00022" / "tok-0001111" on both devices.
    base = "tok-000111\n"
    new_a = "tok-001111\ntok-000111\ntok-000000\n"
    new_b = "tok-000022\ntok-000111\n"
    assert text_edits(base, new_a) == [
        TextEdit(0, 0, "tok-001111\n"),
        TextEdit(22, 0, "tok-000000\n"),
    ]
    assert text_edits(base, new_b) == [TextEdit(0, 0, "tok-000022\n")]
    lines = merged(base, new_a, new_b, a_id, b_id).splitlines()
    assert sorted(lines) == ["tok-000000", "tok-000022", "tok-000111", "tok-001111"]


def test_property_concurrent_line_insertions_keep_every_line_whole() -> None:
    # Device A inserts lines, device B one line elsewhere, concurrently: every line of
    # the merged text must be one of the base's, A's or B's, and none may be missing.
    failures = []
    for seed in range(300):
        rng = random.Random(seed)
        base = [f"tok-{rng.randint(0, 200):06d}\n" for _ in range(rng.randint(1, 8))]
        lines_a = list(base)
        for _ in range(rng.randint(1, 3)):
            lines_a.insert(rng.randint(0, len(lines_a)), f"tok-{rng.randint(0, 200):06d}\n")
        token_b = f"tok-{rng.randint(0, 200):06d}\n"
        at = rng.randint(0, len(base))
        lines_b = [*base[:at], token_b, *base[at:]]
        expected = sorted([*lines_a, token_b])
        for ids in ((1, 2), (2, 1)):
            text = merged("".join(base), "".join(lines_a), "".join(lines_b), *ids)
            if sorted(text.splitlines(keepends=True)) != expected:
                failures.append((seed, ids, text))
    assert failures == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # "\nb" after the last "b" would do too; "b\n" at a line start is a whole line
        ("a\nb", "a\nb\nb", [TextEdit(2, 0, "b\n")]),
        # the trimmed prefix "tok-1\ntok-" ends inside the line "tok-2"
        ("tok-1\ntok-2\n", "tok-1\ntok-3\ntok-2\n", [TextEdit(6, 0, "tok-3\n")]),
        ("tok-1\ntok-3\ntok-2\n", "tok-1\ntok-2\n", [TextEdit(6, 6, "")]),
        ("a\r\ntok-2\r\n", "a\r\ntok-3\r\ntok-2\r\n", [TextEdit(3, 0, "tok-3\r\n")]),
        ("x\rtok-2\r", "x\rtok-3\rtok-2\r", [TextEdit(2, 0, "tok-3\r")]),
    ],
)
def test_whole_lines_are_inserted_and_deleted_at_line_starts(
    old: str, new: str, expected: list[TextEdit]
) -> None:
    assert text_edits(old, new) == expected


def test_changes_a_few_characters_apart_keep_the_characters_between() -> None:
    # Merged into one edit, the two changes deleted and retyped the "-" between them.
    assert text_edits("xab-cdx", "xAB-CDx") == [TextEdit(1, 2, "AB"), TextEdit(4, 2, "CD")]


@pytest.mark.parametrize(("a_id", "b_id"), [(1, 2), (2, 1)])
def test_a_peer_insertion_between_close_changes_stays_in_place(a_id: int, b_id: int) -> None:
    assert merged("ab-cd", "AB-CD", "ab-!cd", a_id, b_id) == "AB-!CD"


OLD_TOKEN = "tk-77-001234 save:inplace on a at 12.3s\n"
NEW_TOKEN = "tk-77-003535 save:delete-create on b at 273.4s\n"


@pytest.mark.parametrize(
    ("old", "new", "replaced"),
    [
        (f"head\n{OLD_TOKEN}tail\n", f"head\n{NEW_TOKEN}tail\n", OLD_TOKEN),
        (f"head\n{OLD_TOKEN}", f"head\n{NEW_TOKEN}", OLD_TOKEN),  # the last line
        (f"head\n{OLD_TOKEN}{OLD_TOKEN}tail\n", f"head\n{NEW_TOKEN}tail\n", OLD_TOKEN * 2),
    ],
)
def test_a_line_replaced_by_an_unlike_line_is_replaced_whole(
    old: str, new: str, replaced: str
) -> None:
    # Diffed by character, "tk-77-00", " save:", " on ", " at " ... of the old line were
    # kept as parts of the new one.
    assert text_edits(old, new) == [TextEdit(len("head\n"), len(replaced), NEW_TOKEN)]


@pytest.mark.parametrize(("a_id", "b_id"), [(1, 2), (2, 1)])
def test_a_line_replaced_here_while_a_peer_deleted_it_stays_whole(a_id: int, b_id: int) -> None:
    # Before, the merge held "3535delete-cre4.4s" and such: the peer's delete took the
    # characters the new line had kept of the old one.
    base = f"head\n{OLD_TOKEN}tail\n"
    lines = merged(base, f"head\n{NEW_TOKEN}tail\n", "head\ntail\n", a_id, b_id).splitlines()
    assert lines == ["head", NEW_TOKEN.strip(), "tail"]


def test_a_line_edited_in_two_places_keeps_the_characters_between() -> None:
    assert text_edits("a quick brown fox\n", "a slow brown cat\n") == [
        TextEdit(2, 5, "slow"),
        TextEdit(13, 3, "cat"),
    ]


def test_a_paragraph_edited_in_several_places_keeps_its_edits_small() -> None:
    words = [f"word{n}" for n in range(60)]
    old = " ".join(words) + "\n"
    for n in (5, 25, 45):
        words[n] = f"WORD{n}"
    edits = text_edits(old, " ".join(words) + "\n")
    assert [edit.insert for edit in edits] == ["WORD", "WORD", "WORD"]


def test_erased_covers_a_span_only_inside_one_deleted_range() -> None:
    erased = Erased([(2, 5), (5, 9), (12, 20)])
    assert erased.covers(2, 5)
    assert erased.covers(13, 20)
    assert erased.covers(6, 9)
    assert not erased.covers(1, 4)  # starts before any range
    assert not erased.covers(4, 7)  # spans two ranges, not joined
    assert Erased.joined(erased.ranges).covers(4, 7)
    assert not erased.covers(10, 11)  # between ranges
    assert not erased.covers(15, 21)  # runs past the range
    assert not erased.covers(3, 3)  # nothing to judge


def test_a_line_changed_in_place_is_replaced_whole_when_erased_covers_it() -> None:
    old, new = "a\nmeeting at 10:00\nz\n", "a\nmeeting at 11:30\nz\n"
    assert len(text_edits(old, new)) > 1  # by character
    erased = Erased([(2, len("a\nmeeting at 10:00"))])
    assert text_edits(old, new, erased) == [
        TextEdit(2, len("meeting at 10:00\n"), "meeting at 11:30\n")
    ]
