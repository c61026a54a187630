"""mkdocs hook: pages of docs/ that the nav of mkdocs.yml does not list go under "More".

Engineers add spec pages in parallel; a page nobody put in the nav yet still belongs
in the site (and ``--strict`` would otherwise fail the build on it). Each is listed by
its first ``# `` heading. Generated pages (the CLI reference) are in the nav already.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

MORE = "More"


def _listed(nav: Any) -> Iterator[str]:
    """Every page path the nav names."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _listed(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _listed(value)


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem


def unlisted(docs_dir: Path, nav: Any) -> list[dict[str, str]]:
    """Nav entries for the Markdown pages under ``docs_dir`` that ``nav`` leaves out."""
    listed = set(_listed(nav))
    pages = sorted(p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.md"))
    return [{_title(docs_dir / p): p} for p in pages if p not in listed]


def on_config(config: Any) -> Any:
    """Append the unlisted pages to the nav, under "More"."""
    extra = unlisted(Path(config["docs_dir"]), config["nav"])
    if extra and config["nav"] is not None:
        config["nav"].append({MORE: extra})
    return config
