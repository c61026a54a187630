"""ignore: .p2psyncignore patterns with git's semantics, plus the built-in rules.

The table of cases is checked twice: against IgnoreRules, and against git itself
(``git check-ignore --no-index`` in a temporary repository holding the same files), so
the expectations are git's documented behaviour, not ours.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.mirror.ignore import BUILTIN_PATTERNS, IGNORE_FILE, IgnoreRules

# (patterns, path, is_dir, ignored)
CASES: list[tuple[str, str, bool, bool]] = [
    # a name without a slash matches at any depth
    ("foo", "foo", False, True),
    ("foo", "a/b/foo", False, True),
    ("foo", "a/foo", True, True),
    ("foo", "foobar", False, False),
    # "*" and "?" stop at "/"
    ("*.log", "x.log", False, True),
    ("*.log", "deep/down/x.log", False, True),
    ("*.log", "x.logs", False, False),
    ("a/*.c", "a/x.c", False, True),
    ("a/*.c", "a/b/x.c", False, False),
    ("?.txt", "a.txt", False, True),
    ("?.txt", "ab.txt", False, False),
    ("a?b", "a/b", False, False),
    # a leading or middle slash anchors to the top
    ("/top", "top", False, True),
    ("/top", "sub/top", False, False),
    ("doc/frotz", "doc/frotz", False, True),
    ("doc/frotz", "a/doc/frotz", False, False),
    ("/doc/frotz/", "doc/frotz", True, True),
    # a trailing slash matches folders only, and what is inside them
    ("build/", "build", True, True),
    ("out/", "out", False, False),
    ("build/", "build/out.o", False, True),
    ("build/", "src/build/out.o", False, True),
    ("frotz/", "a/frotz", True, True),
    # negation, and git's rule that an ignored folder's contents stay ignored
    ("*.log\n!keep.log", "keep.log", False, False),
    ("*.log\n!keep.log", "other.log", False, True),
    ("!keep.log\n*.log", "keep.log", False, True),
    ("build/\n!build/keep.txt", "build/keep.txt", False, True),
    ("docs/*\n!docs/keep/", "docs/keep/a.txt", False, False),
    ("docs/*\n!docs/keep/", "docs/other/a.txt", False, True),
    ("docs/*\n!docs/keep/", "docs/file", False, True),
    # "**"
    ("**/foo", "foo", False, True),
    ("**/foo", "a/b/foo", False, True),
    ("**/foo/bar", "x/foo/bar", False, True),
    ("**/foo/bar", "foo/bar", False, True),
    ("abc/**", "abc/x", False, True),
    ("abc/**", "abc/z/y", False, True),
    ("abc/**", "abc", True, False),
    ("a/**/b", "a/b", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("a/**/b", "a/xb", False, False),
    ("a**b", "axyb", False, True),
    ("a**b", "ax/yb", False, False),
    # character classes
    ("[abc].txt", "b.txt", False, True),
    ("[abc].txt", "d.txt", False, False),
    ("[a-c]x", "bx", False, True),
    ("[!a-c]x", "dx", False, True),
    ("[!a-c]x", "ax", False, False),
    ("[^a-c]x", "ax", False, False),
    ("[]]x", "]x", False, True),
    ("[a-]x", "-x", False, True),
    # comments, blank lines, escapes, trailing spaces
    ("# comment", "# comment", False, False),
    ("\\#hash", "#hash", False, True),
    ("\\!bang", "!bang", False, True),
    ("\n\n  \nfoo", "foo", False, True),
    ("trail   ", "trail", False, True),
    ("trail\\ ", "trail ", False, True),
    ("trail\\ ", "trail", False, False),
    ("star\\*", "star*", False, True),
    ("star\\*", "starx", False, False),
    ("q\\?", "q?", False, True),
    ("q\\?", "qx", False, False),
    # case-sensitive
    ("Foo", "foo", False, False),
    # nothing to do with the path
    ("bar", "foo", False, False),
    ("", "foo", False, False),
    ("x//", "x", True, False),  # one trailing slash is dir-only; "x/" then never matches
]


def cases_by_patterns() -> dict[str, list[tuple[str, bool, bool]]]:
    grouped: dict[str, list[tuple[str, bool, bool]]] = defaultdict(list)
    for patterns, path, is_dir, ignored in CASES:
        grouped[patterns].append((path, is_dir, ignored))
    return grouped


@pytest.mark.parametrize(("patterns", "path", "is_dir", "ignored"), CASES)
def test_pattern_table(patterns: str, path: str, is_dir: bool, ignored: bool) -> None:
    rules = IgnoreRules.parse(patterns, builtins=False)
    assert rules.problems == ()
    assert rules.ignored(path, is_dir) is ignored


@pytest.mark.parametrize(("patterns", "cases"), sorted(cases_by_patterns().items()))
def test_pattern_table_agrees_with_git(
    tmp_path: Path, patterns: str, cases: list[tuple[str, bool, bool]]
) -> None:
    verdicts = git_verdicts(tmp_path, patterns, {path: is_dir for path, is_dir, _ in cases})
    for path, _, ignored in cases:
        assert verdicts[path] is ignored, (patterns, path)


def git_verdicts(root: Path, patterns: str, paths: dict[str, bool]) -> dict[str, bool]:
    """Whether git ignores each path (a folder if its value is true) under
    ``patterns``, asked of ``git check-ignore`` in a new repository at ``root`` that
    holds those files and folders."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(patterns + "\n")
    for path, is_dir in paths.items():
        target = root / path
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    done = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "--no-index", "--stdin", "-z", "-v", "-n"],
        input="".join(path + "\0" for path in paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in {0, 1}, done.stderr
    fields = done.stdout.split("\0")
    # -z -v -n: source, line number, pattern, path for each input path
    matched = {fields[i + 3]: fields[i + 2] for i in range(0, len(fields) - 1, 4)}
    return {path: matched[path] != "" and not matched[path].startswith("!") for path in paths}


GLOB_ATOMS = ["a", "b", "x", ".", "*", "**", "?", "/", "[ab]", "[!a]", "[a-c]", "[]a]"]
GLOB_ATOMS += ["\\*", "!", " ", "\\ ", "#"]
NAMES = st.sampled_from(["a", "b", "ab", "x", "a.b", "*", "c", " a", "#x", "!b"])


def file_tree(paths: list[list[str]]) -> dict[str, bool]:
    """Paths (as lists of names) and the folders above them, each mapped to whether
    it is a folder; a path that is also a folder above another one is a folder."""
    tree: dict[str, bool] = {}
    for names in paths:
        for depth in range(1, len(names)):
            tree["/".join(names[:depth])] = True
    for names in paths:
        tree.setdefault("/".join(names), False)
    return tree


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(GLOB_ATOMS), min_size=1, max_size=5).map("".join),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.lists(NAMES, min_size=1, max_size=3), min_size=1, max_size=10),
)
def test_property_random_patterns_agree_with_git(
    patterns: list[str], paths: list[list[str]]
) -> None:
    text = "\n".join(patterns)
    tree = file_tree(paths)
    rules = IgnoreRules.parse(text, builtins=False)
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = git_verdicts(Path(tmp), text, tree)
    for path, is_dir in tree.items():
        assert rules.ignored(path, is_dir) is verdicts[path], (patterns, path, is_dir)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[abc", "never closed"),
        ("foo\\", "lone backslash"),
        ("[[:alpha:]]x", "POSIX"),
        ("!", "empty"),
        ("/", "empty"),
    ],
)
def test_bad_lines_are_skipped_with_a_reason(line: str, reason: str) -> None:
    rules = IgnoreRules.parse(f"good\n{line}\nalso-good\n", builtins=False)
    assert len(rules.problems) == 1
    problem = rules.problems[0]
    assert (problem.line_number, problem.line) == (2, line)
    assert reason in problem.reason
    assert rules.ignored("good", False)
    assert rules.ignored("also-good", False)


def test_crlf_and_byte_order_mark_in_the_file() -> None:
    rules = IgnoreRules.parse("\ufeff*.bak\r\nsecret\r\n", builtins=False)
    assert rules.ignored("x.bak", False)
    assert rules.ignored("secret", False)
    assert rules.problems == ()


@pytest.mark.parametrize(
    "path",
    [
        ".notes.md.swp",
        "dir/.x.swo",
        "a.swx",
        "4913",
        "sub/4913",
        "report.docx~",
        ".#notes.org",
        "#notes.org#",
        "~$report.docx",
        ".~lock.sheet.ods#",
        ".goutputstream-ABC123",
        "file.txt___jb_tmp___",
        "file.txt___jb_old___",
        "save.tmp",
        ".DS_Store",
        "photos/.DS_Store",
        "._photo.jpg",
        "Thumbs.db",
        "desktop.ini",
        ".Trash-1000/files/x",
        "$RECYCLE.BIN/x",
    ],
)
def test_builtin_ignores(path: str) -> None:
    assert IgnoreRules.parse("").ignored(path, is_dir=False)


@pytest.mark.parametrize(
    "path", ["notes.md", "movie.swf", "4913.txt", "tmp/file", "a~b", "Thumbs.db.txt"]
)
def test_builtins_leave_ordinary_files_alone(path: str) -> None:
    assert not IgnoreRules.parse("").ignored(path, is_dir=False)


def test_a_builtin_can_be_brought_back() -> None:
    rules = IgnoreRules.parse("!*.tmp\n")
    assert not rules.ignored("data.tmp", is_dir=False)
    assert rules.ignored(".DS_Store", is_dir=False)


def test_builtins_all_compile() -> None:
    rules = IgnoreRules.parse("")
    assert len(rules.patterns) == len(BUILTIN_PATTERNS)
    assert rules.problems == ()


def test_internal_folder_is_always_ignored_and_the_ignore_file_never() -> None:
    rules = IgnoreRules.parse("!.p2psync\n!.p2psync/**\n*\n")
    assert rules.ignored(".p2psync", is_dir=True)
    assert rules.ignored(".p2psync/docs/x.ylog", is_dir=False)
    assert not rules.ignored(IGNORE_FILE, is_dir=False)
    assert rules.ignored("anything", is_dir=False)


@given(st.text(max_size=200))
def test_property_parse_never_raises(text: str) -> None:
    rules = IgnoreRules.parse(text)
    rules.ignored("a/b.txt", is_dir=False)
    rules.ignored("a", is_dir=True)
