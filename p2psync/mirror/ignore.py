"""Which paths of a share are not synced: ``.p2psyncignore`` patterns and built-ins.

A ``.p2psyncignore`` file at the top of a share (synced with it) holds gitignore-style
patterns, with git's semantics (https://git-scm.com/docs/gitignore):

- one pattern per line; blank lines and lines starting with ``#`` are skipped; trailing
  spaces are dropped unless escaped (``\\ ``); ``\\#`` and ``\\!`` start a pattern with a
  literal ``#`` or ``!``; a backslash escapes any character;
- ``!`` negates: a path matched again by a later negated pattern is not ignored, except
  that nothing inside an ignored folder can be brought back (git's rule);
- a trailing ``/`` matches folders only; a ``/`` at the start or in the middle anchors
  the pattern to the top of the share, otherwise it matches a name at any depth;
- ``*`` matches anything but ``/``, ``?`` one character but ``/``, ``[a-z]``,
  ``[!a-z]`` and ``[^a-z]`` one character of (or not of) a set; ``**/`` at the start
  matches in every folder, ``/**`` at the end everything inside, ``/**/`` zero or more
  folders; other ``**`` are plain ``*``;
- matching is case-sensitive, as git's is by default.

A line git would also never match with (an unclosed ``[``, a trailing lone backslash,
POSIX ``[:classes:]``) is skipped and reported in ``IgnoreRules.problems``; parsing
never raises.

Built-in rules come first, as if at the top of the file, so a share can bring any of
them back with a ``!`` line: editor swap, lock, backup and atomic-save temporary files,
and operating-system litter (``BUILTIN_PATTERNS``, each with the reason). The share's
internal ``.p2psync/`` folder is always ignored, whatever the file says, and the
``.p2psyncignore`` file itself never is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from p2psync.mirror.paths import INTERNAL_DIR

IGNORE_FILE = ".p2psyncignore"
"""The name of the patterns file at the top of a share."""

BUILTIN_PATTERNS: tuple[tuple[str, str], ...] = (
    ("*.swp", "Vim swap file"),
    ("*.swx", "Vim swap file (while probing)"),
    (".*.sw[a-p]", "Vim swap files of a file opened more than once (.x.swo, ...)"),
    ("4913", "Vim's probe that a folder is writable"),
    ("*~", "backup copy (Vim, Emacs, gedit, Kate)"),
    (".#*", "Emacs lock link"),
    ("#*#", "Emacs auto-save file"),
    ("~$*", "Microsoft Office owner file of an open document"),
    (".~lock.*#", "LibreOffice lock file"),
    (".goutputstream-*", "GNOME atomic-save temporary file"),
    ("*___jb_tmp___", "JetBrains safe-write temporary file"),
    ("*___jb_old___", "JetBrains safe-write old copy"),
    ("*.tmp", "atomic-save temporary file (many tools write x.tmp and rename it)"),
    (".DS_Store", "macOS Finder folder settings"),
    ("._*", "macOS AppleDouble resource fork on a foreign filesystem"),
    (".Spotlight-V100/", "macOS search index"),
    (".Trashes/", "macOS trash of a volume"),
    (".fseventsd/", "macOS file event log of a volume"),
    (".Trash-*/", "Linux desktop trash of a volume"),
    ("Thumbs.db", "Windows Explorer thumbnail cache"),
    ("ehthumbs.db", "Windows Media Center thumbnail cache"),
    ("desktop.ini", "Windows Explorer folder settings"),
    ("$RECYCLE.BIN/", "Windows recycle bin of a volume"),
)
"""Ignored in every share unless its ``.p2psyncignore`` brings them back with ``!``."""


@dataclass(frozen=True, slots=True)
class IgnoreProblem:
    """A line of ``.p2psyncignore`` that was skipped, and why (for an event)."""

    line_number: int
    line: str
    reason: str


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    """One compiled pattern line."""

    source: str
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        """Whether the pattern matches share path ``rel`` (a folder if ``is_dir``)."""
        return (is_dir or not self.dir_only) and self.regex.fullmatch(rel) is not None


class PatternError(ValueError):
    """A pattern line git would never match with; the message says why."""


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The built-in rules followed by a share's own, in order: the last pattern that
    matches a path decides. Build it with ``IgnoreRules.parse``."""

    patterns: tuple[IgnorePattern, ...]
    problems: tuple[IgnoreProblem, ...] = ()
    _folders: dict[str, bool] = field(default_factory=dict, init=False, compare=False, repr=False)
    """The folders decided so far: ``ignored`` looks at every folder of each path (a
    first scan of 10,000 files in 350 folders asked the same ones 30,000 times)."""

    @classmethod
    def parse(cls, text: str, *, builtins: bool = True) -> IgnoreRules:
        """The built-in rules (unless ``builtins`` is false) plus those of a
        ``.p2psyncignore`` holding ``text``.

        Never raises: lines that cannot be used are listed in ``problems``.
        """
        patterns = [compile_pattern(p) for p, _ in BUILTIN_PATTERNS] if builtins else []
        problems: list[IgnoreProblem] = []
        for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
            try:
                pattern = _parse_line(line)
            except PatternError as exc:
                problems.append(IgnoreProblem(number, line, str(exc)))
                continue
            if pattern is not None:
                patterns.append(pattern)
        return cls(tuple(patterns), tuple(problems))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether share path ``rel`` (a folder if ``is_dir``) is not synced: it, or a
        folder it is in, is ignored. The internal folder always is; the top-level
        ``.p2psyncignore`` never is (it is synced with the share)."""
        names = rel.split("/")
        if names[0] == INTERNAL_DIR:
            return True
        if rel == IGNORE_FILE:
            return False
        for depth in range(1, len(names)):
            folder = "/".join(names[:depth])
            decided = self._folders.get(folder)
            if decided is None:
                decided = self._folders[folder] = self._decide(folder, is_dir=True)
            if decided:
                return True
        return self._decide(rel, is_dir)

    def _decide(self, rel: str, is_dir: bool) -> bool:
        for pattern in reversed(self.patterns):
            if pattern.matches(rel, is_dir):
                return not pattern.negated
        return False


def _parse_line(line: str) -> IgnorePattern | None:
    """The pattern of one line, None for a blank or comment line; raises PatternError."""
    if line.startswith("#"):
        return None
    pattern = _strip_trailing_spaces(line)
    if not pattern:
        return None
    return compile_pattern(pattern)


def _strip_trailing_spaces(line: str) -> str:
    """``line`` without trailing spaces, except one escaped by a backslash."""
    stripped = line.rstrip(" ")
    if len(stripped) < len(line) and _ends_in_escape(stripped):
        return stripped + " "
    return stripped


def _ends_in_escape(text: str) -> bool:
    backslashes = len(text) - len(text.rstrip("\\"))
    return backslashes % 2 == 1


def compile_pattern(pattern: str) -> IgnorePattern:
    """Compile one pattern (no comment, trailing spaces already handled).

    Raises PatternError for a pattern that can never match, saying why.
    """
    source = pattern
    negated = pattern.startswith("!")
    if negated:
        pattern = pattern[1:]
    dir_only = pattern.endswith("/") and not _ends_in_escape(pattern[:-1])
    if dir_only:
        pattern = pattern[:-1]
    if not pattern:
        raise PatternError("the pattern is empty")
    if _ends_in_escape(pattern):
        raise PatternError("the pattern ends in a lone backslash")
    anchored = "/" in pattern
    pattern = pattern.removeprefix("/")
    body = _translate(pattern)
    regex = body if anchored else f"(?:.*/)?{body}"
    return IgnorePattern(source, re.compile(regex, re.DOTALL), negated, dir_only)


def _translate(pattern: str) -> str:
    """The regular expression of an (unanchored-prefix-free) glob."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*" and pattern.startswith("**", i):
            out.append(_double_star(pattern, i))
            i += 2
            while i < n and pattern[i] == "*":
                i += 1
            if out[-1] != "[^/]*" and i < n:
                i += 1  # the "/" after "**/" is part of the translation
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            translated, i = _bracket(pattern, i)
            out.append(translated)
        elif c == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _double_star(pattern: str, i: int) -> str:
    """The translation of a ``**`` run starting at ``i``."""
    end = i
    while end < len(pattern) and pattern[end] == "*":
        end += 1
    starts_segment = i == 0 or pattern[i - 1] == "/"
    ends_segment = end == len(pattern) or pattern[end] == "/"
    if not (starts_segment and ends_segment):
        return "[^/]*"
    if end == len(pattern):
        return ".*" if i == 0 else ".+"  # "**" alone, or "x/**": everything inside
    return "(?:.*/)?"  # "**/" : zero or more folders


def _bracket(pattern: str, start: int) -> tuple[str, int]:
    """Translate the bracket expression at ``start``; return it and the index after."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while i < len(pattern):
        c = pattern[i]
        if c == "]" and not first:
            set_text = "".join(members)
            return (f"[^/{set_text}]" if negate else f"(?!/)[{set_text}]"), i + 1
        if c == "[" and pattern.startswith("[:", i):
            raise PatternError("POSIX character classes ([:alpha:]) are not supported")
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            c = pattern[i]
        if c == "-" and members and not first and i + 1 < len(pattern) and pattern[i + 1] != "]":
            members.append("-")
        else:
            members.append(re.escape(c) if c != "-" else "\\-")
        first = False
        i += 1
    raise PatternError("a '[' is never closed")
