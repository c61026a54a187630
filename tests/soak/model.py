"""What the soak expects the shared folder to hold, and the check of what it holds.

Every change a worker makes puts one unique *token line* into a file. The model
records each token once its change was acknowledged (the save's write returned and
was not raced, ``append_update`` returned, the created file was written) and what
later changes mean for it: a save that removed the line or a delete of its file
makes it *gone* (it may then be absent, or present once). A live token must end
present exactly once on every device.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TOKEN = re.compile(rb"\btk-[0-9]+-[0-9]{6}\b")
CONFLICTS = Path(".p2psync") / "conflicts"


@dataclass
class Token:
    """One token line: who made it, how, in which file, and what became of it."""

    name: str
    device: str
    how: str  # "save:<style>", "append", "create"
    path: str  # the file it went into (share path at the time)
    at: float  # seconds since the start of the run, when it was acknowledged
    gone: str = ""  # why it may be absent: "line deleted by ...", "file deleted by ..."
    withdrawn: str = ""  # a raced save: the write never landed, so the token is not counted


@dataclass
class Model:
    """Every token of the run, and which file (by any of its names) holds which.

    Paths are never reused by a new file (creates and renames take fresh names), so a
    path names one file for the whole run: ``file_of`` maps every name a file ever had
    to the file's first name, so a save through an old name still counts for it.
    """

    seed: int
    started: float = field(default_factory=time.monotonic)
    tokens: dict[str, Token] = field(default_factory=dict)
    file_of: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    events: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def now(self) -> float:
        return time.monotonic() - self.started

    def new_token(self) -> str:
        """A fresh token name (not yet acknowledged)."""
        with self.lock:
            self._next += 1
            return f"tk-{self.seed}-{self._next:06d}"

    def count(self, what: str, detail: str = "") -> None:
        """Count ``what``; with ``detail``, also note it in the run's journal."""
        with self.lock:
            self.counts[what] += 1
            if detail:
                self.events.append((self.now(), f"{what}: {detail}"))

    def journal(self) -> str:
        """Every token and noted event in time order, to read beside the daemon logs."""
        with self.lock:
            lines = list(self.events)
            for t in self.tokens.values():
                state = f" gone: {t.gone}" if t.gone else ""
                state += f" withdrawn: {t.withdrawn}" if t.withdrawn else ""
                lines.append((t.at, f"{t.name} {t.how} on {t.device} into {t.path}{state}"))
        return "".join(f"{at:9.2f} {text}\n" for at, text in sorted(lines))

    def ack(self, name: str, device: str, how: str, path: str) -> None:
        """The change that put token ``name`` into ``path`` is acknowledged."""
        with self.lock:
            self.file_of.setdefault(path, path)
            self.tokens[name] = Token(name, device, how, path, self.now())

    def withdraw(self, name: str, device: str, how: str, path: str, why: str) -> None:
        """A save raced the daemon and its write did not land: not counted, but kept
        to say where (if anywhere) its token ended."""
        with self.lock:
            self.tokens[name] = Token(name, device, how, path, self.now(), withdrawn=why)

    def line_deleted(self, name: str, device: str) -> None:
        with self.lock:
            token = self.tokens.get(name)
            if token is not None and not token.gone:
                token.gone = f"line deleted by a save on {device} at {self.now():.1f}s"

    def renamed(self, old: str, new: str) -> None:
        with self.lock:
            self.file_of[new] = self.file_of.setdefault(old, old)

    def file_deleted(self, path: str, device: str) -> None:
        """Every token of the file acknowledged so far may be gone with it (one made
        later on a device that had not seen the delete must bring the file back)."""
        with self.lock:
            file = self.file_of.get(path, path)
            why = f"file {path} deleted by {device} at {self.now():.1f}s"
            for token in self.tokens.values():
                if not token.gone and self.file_of.get(token.path, token.path) == file:
                    token.gone = why


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file of a share folder (its ``.p2psync/`` left out) by share path."""
    tree: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] != ".p2psync" and path.is_file() and not path.is_symlink():
            tree[rel.as_posix()] = path.read_bytes()
    return tree


def token_counts(files: dict[str, bytes]) -> Counter[str]:
    found: Counter[str] = Counter()
    for data in files.values():
        found.update(m.decode() for m in TOKEN.findall(data))
    return found


def conflict_tokens(folder: Path) -> Counter[str]:
    """Tokens in the device's kept copies under ``.p2psync/conflicts/``."""
    root = folder / CONFLICTS
    copies = {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    return token_counts(copies)


@dataclass
class Findings:
    """What the final check found; ``lost`` is True when the promise did not hold."""

    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    duplicated_in: Counter[str] = field(default_factory=Counter)
    """For the duplicated tokens: the files of the first device that hold them, so
    a file copied whole reads as one line of the report, not as its every token."""
    only_in_conflicts: list[str] = field(default_factory=list)
    withdrawn: Counter[str] = field(default_factory=Counter)
    tree_differences: list[str] = field(default_factory=list)
    doctor: list[str] = field(default_factory=list)
    live: int = 0
    gone: int = 0
    suspects: set[str] = field(default_factory=set)
    """Every name of each file a finding is in: its daemons' log lines are the trail."""

    @property
    def lost(self) -> bool:
        return bool(self.missing or self.duplicated or self.tree_differences or self.doctor)


def check(model: Model, trees: dict[str, dict[str, bytes]], folders: dict[str, Path]) -> Findings:
    """Compare every device's tree with the model and with each other."""
    findings = Findings()
    names = sorted(trees)
    for path in sorted(set().union(*(trees[d] for d in names))):
        holders = {d: trees[d].get(path) for d in names}
        if len(set(holders.values())) > 1:
            shown = ", ".join(
                f"{d}: {'absent' if v is None else f'{len(v)} bytes'}" for d, v in holders.items()
            )
            findings.tree_differences.append(f"{path} differs ({shown})")
    found = {d: token_counts(trees[d]) for d in names}
    kept = {d: conflict_tokens(folders[d]) for d in names}
    for token in sorted(model.tokens.values(), key=lambda t: t.name):
        counts = {d: found[d][token.name] for d in names}
        where = _where(model, token, trees, kept)
        if token.withdrawn:
            in_copies = any(kept[d][token.name] for d in names)
            place = "tree" if any(counts.values()) else "conflicts" if in_copies else "nowhere"
            findings.withdrawn[place] += 1
            continue
        if any(n > 1 for n in counts.values()):
            findings.suspects.update(_names(model, token))
            findings.duplicated.append(f"{_describe(token)}: counts {counts}{where}")
            files = [p for p, data in trees[names[0]].items() if token.name.encode() in data]
            findings.duplicated_in[" + ".join(files)] += 1
        if token.gone:
            findings.gone += 1
            continue
        findings.live += 1
        absent = [d for d in names if counts[d] == 0]
        if not absent:
            continue
        findings.suspects.update(_names(model, token))
        if all(kept[d][token.name] for d in absent):
            findings.only_in_conflicts.append(f"{_describe(token)}: absent on {absent}{where}")
        else:
            findings.missing.append(f"{_describe(token)}: absent on {absent}{where}")
    return findings


def _describe(token: Token) -> str:
    text = f"{token.name} ({token.how} on {token.device} into {token.path} at {token.at:.1f}s"
    extra = f"; gone: {token.gone}" if token.gone else ""
    extra += f"; withdrawn: {token.withdrawn}" if token.withdrawn else ""
    return text + extra + ")"


def _names(model: Model, token: Token) -> list[str]:
    """Every name the file of ``token`` had in the run."""
    file = model.file_of.get(token.path, token.path)
    return sorted(p for p, f in model.file_of.items() if f == file)


def _where(
    model: Model, token: Token, trees: dict[str, dict[str, bytes]], kept: dict[str, Counter[str]]
) -> str:
    """Where the token is now, to debug a finding: files per device, kept copies."""
    marker = token.name.encode()
    places = [f"{d}:{p}" for d, tree in trees.items() for p, data in tree.items() if marker in data]
    copies = [d for d, counts in kept.items() if counts[token.name]]
    text = f"; file names {_names(model, token)}; found in {places or 'no file'}"
    return text + (f"; conflict copies on {copies}" if copies else "")
