"""A local save of a 1 MB text file as Y.Text edits (p2psync.mirror.textdiff, issue 4).

The file mixes ASCII with 2-, 3- and 4-byte UTF-8 characters, so byte offsets and code
points differ. One line in the middle changes (the common save), or 20 lines spread
over the file. Anchors: reading and decoding the same file from disk (the least any
save costs), and a full-text replacement of the doc (what a naive mirror would send).
"""

from __future__ import annotations

import difflib
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import pycrdt

from bench.harness import BenchContext, Metric, timeit_best
from p2psync.mirror.textdiff import LINE_DIFF_BUDGET, apply_text_change, myers

GROUP = "Text files as docs (issue 4)"
WORDS = ("alpha", "beta", "délta", "中文", "😀", "lorem", "ipsum", "x")
SCATTERED_LINES = 20


def make_text(size_bytes: int, seed: int = 4) -> str:
    """About ``size_bytes`` of UTF-8 text, in lines of 3 to 12 words."""
    rng = random.Random(seed)
    lines, size = [], 0
    while size < size_bytes:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + "\n"
        lines.append(line)
        size += len(line.encode())
    return "".join(lines)


def change_lines(text: str, count: int, seed: int = 5) -> str:
    """``text`` with ``count`` lines (the middle one if count is 1) edited."""
    lines = text.splitlines(keepends=True)
    picks = (
        [len(lines) // 2] if count == 1 else random.Random(seed).sample(range(len(lines)), count)
    )
    for i in picks:
        lines[i] = "changed: " + lines[i]
    return "".join(lines)


def doc_holding(text: str) -> tuple[pycrdt.Doc[pycrdt.Text], pycrdt.Text]:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    content = doc.get("content", type=pycrdt.Text)
    content += text
    return doc, content


def time_save(old: str, new: str, repeat: int) -> float:
    """Best seconds of ``apply_text_change`` on fresh docs holding ``old`` (built
    beforehand, outside the timing)."""
    docs = [doc_holding(old)[1] for _ in range(repeat)]

    def save() -> None:
        apply_text_change(docs.pop(), old, new)

    return timeit_best(save, repeat)


def run(ctx: BenchContext) -> None:
    size = 100_000 if ctx.quick else 1_000_000
    repeat = 3 if ctx.quick else 10
    old = make_text(size)
    new = change_lines(old, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        path.write_bytes(new.encode())
        read_s = timeit_best(lambda: path.read_bytes().decode("utf-8"), repeat)

    ctx.report(Metric(
        GROUP, "one-line save of a 1 MB file: diff + apply", time_save(old, new, repeat), "s",
        "read + UTF-8 decode of the file", read_s, 3,
        note="text_edits and the Y.Text edits in one transaction, on a doc holding the old "
        f"text; best of {repeat}",
    ))  # fmt: skip

    doc, content = doc_holding(old)
    state = doc.get_state()
    apply_text_change(content, old, new)
    edit_size = len(doc.get_update(state))
    naive_doc, naive_content = doc_holding(old)
    state = naive_doc.get_state()
    with naive_doc.transaction():
        del naive_content[0 : len(naive_content)]
        naive_content += new
    naive_size = len(naive_doc.get_update(state))
    ctx.report(Metric(
        GROUP, "one-line save of a 1 MB file: update size", edit_size, "bytes",
        "delete all + insert all", naive_size, 0.001, limit=1024,
        note="the Yjs v1 update the save produces, against replacing the whole text",
    ))  # fmt: skip

    scattered = change_lines(old, SCATTERED_LINES)
    ctx.report(Metric(
        GROUP, f"{SCATTERED_LINES} changed lines of a 1 MB file: diff + apply",
        time_save(old, scattered, repeat), "s", "read + UTF-8 decode of the file", read_s, 20,
        note="lines spread over the whole file, so trimming leaves almost all of it to diff",
    ))  # fmt: skip

    lines_old, lines_new = old.splitlines(keepends=True), scattered.splitlines(keepends=True)
    ctx.report(Metric(
        GROUP, "line diff: difflib instead of Myers", _best(
            lambda: difflib.SequenceMatcher(None, lines_old, lines_new, autojunk=False)
            .get_opcodes(), repeat,
        ), "s", "Myers (mirror.textdiff)",
        _best(lambda: myers(lines_old, lines_new, LINE_DIFF_BUDGET), repeat), 1.0,
        lower_is_better=False,
        note=f"the line stage alone on the {SCATTERED_LINES}-line change; a ratio above 1 "
        "means the choice of Myers (docs/decisions.md) still holds",
    ))  # fmt: skip


def _best(fn: Callable[[], object], repeat: int) -> float:
    return timeit_best(fn, max(1, repeat // 3))
