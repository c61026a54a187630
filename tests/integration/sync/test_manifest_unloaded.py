"""An idle share's manifest leaves memory like any other doc (``daemon.residency``:
after the everyday grace, never a crowd's brief one; the mirror holds it only while it
changes it, ``mirror.keeper``) and is loaded again for the next change: a file made,
renamed or deleted on one device once both hold no doc in memory reaches the other,
and every doc leaves memory again. A 10,000-file share's manifest held 34 MiB."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemons import Device, link, make_share, unload_quickly, wait_for

FILES = 20


def docs_loaded(device: Device, share: str) -> int:
    return int(next(s for s in device.status()["shares"] if s["id"] == share)["docs_loaded"])


def test_the_manifest_leaves_memory_when_idle_and_comes_back_for_changes(tmp_path: Path) -> None:
    alpha, beta = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([alpha, beta])
    for device in (alpha, beta):
        unload_quickly(device)
    for number in range(FILES):
        (alpha.folder / f"note-{number}.md").write_text(f"note {number}\n")
    alpha.start()
    beta.start()
    try:
        link([alpha, beta])
        wait_for(lambda: all((beta.folder / f"note-{n}.md").exists() for n in range(FILES)),
                 "the first sync")  # fmt: skip
        out_of_memory = "every doc of both, the manifest too, out of memory"
        wait_for(lambda: docs_loaded(alpha, share) == docs_loaded(beta, share) == 0, out_of_memory)

        (alpha.folder / "note-0.md").rename(alpha.folder / "renamed.md")
        (alpha.folder / "new.md").write_text("made once the manifest had left memory\n")
        (alpha.folder / "note-1.md").unlink()

        def on_beta() -> bool:
            folder = beta.folder
            return (
                (folder / "new.md").exists()
                and (folder / "renamed.md").exists()
                and not (folder / "note-0.md").exists()
                and not (folder / "note-1.md").exists()
            )

        wait_for(on_beta, "the new, renamed and deleted files on beta")
        assert (beta.folder / "renamed.md").read_text() == "note 0\n"
        assert (beta.folder / "new.md").read_text() == "made once the manifest had left memory\n"
        wait_for(lambda: docs_loaded(alpha, share) == docs_loaded(beta, share) == 0, out_of_memory)
    finally:
        beta.stop()
        alpha.stop()
