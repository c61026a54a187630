"""Text files in a shared folder merge by character between real daemons."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.traces import load_trace
from tests.support.daemons import Device, wait_for
from tests.support.mirror import holds, live_entries, read
from tests.support.probes import pause, resume, synced_file, wait_saved

Share = Callable[..., list[Device]]


def concurrent_saves(devices: list[Device], name: str, saves: dict[Device, str]) -> None:
    """Each device of ``saves`` saves ``name`` while no device is connected."""
    pause(devices)
    for device, text in saves.items():
        (device.folder / name).write_text(text)
    for device, text in saves.items():
        wait_saved(device, name, text)
    resume(devices)


def test_concurrent_edits_at_different_places_both_survive(share_of: Share) -> None:
    devices = share_of("alice", "bob", "carol")
    alice, bob, carol = devices
    synced_file(devices, "notes.md", "first line\nmiddle\nlast line\n")
    saves = [
        "first line, said alice\nmiddle\nlast line\n",
        "first line\nmiddle\nlast line, said bob\n",
    ]
    concurrent_saves(devices, "notes.md", {alice: saves[0], bob: saves[1]})
    merged = b"first line, said alice\nmiddle\nlast line, said bob\n"
    for device in devices:
        wait_for(holds(device.folder / "notes.md", merged), "the merge")
    assert [len(live_entries(d, "notes.md")) for d in devices] == [1, 1, 1]
    assert not list(carol.folder.glob("notes*conflict*"))


def test_concurrent_edits_at_the_same_place_keep_both_texts(share_of: Share) -> None:
    devices = share_of("alice", "bob")
    alice, bob = devices
    synced_file(devices, "todo.txt", "- milk\n")
    concurrent_saves(devices, "todo.txt", {alice: "- milk\n- eggs\n", bob: "- milk\n- bread\n"})
    wait_for(lambda: read(alice.folder / "todo.txt") == read(bob.folder / "todo.txt"), "same file")
    text = (alice.folder / "todo.txt").read_text()
    assert text in ("- milk\n- eggs\n- bread\n", "- milk\n- bread\n- eggs\n")


def in_place(path: Path, text: str) -> None:
    with path.open("r+b") as file:
        file.write(text.encode())
        file.truncate()


def truncate_then_write(path: Path, text: str) -> None:
    path.write_text(text)


def temp_then_rename(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def delete_then_create(path: Path, text: str) -> None:
    path.unlink()
    path.write_text(text)


def test_every_editor_save_style_is_an_edit_of_the_same_doc(share_of: Share) -> None:
    alice, bob = share_of("alice", "bob")
    synced_file([alice, bob], "story.md", "Once upon a time.\n")
    guid = live_entries(alice, "story.md")[0]
    text = "Once upon a time.\n"
    for number, save in enumerate(
        [in_place, truncate_then_write, temp_then_rename, delete_then_create]
    ):
        text += f"Then {save.__name__} ({number}).\n"
        save(alice.folder / "story.md", text)
        wanted = text.encode()
        wait_for(holds(bob.folder / "story.md", wanted), f"the {save.__name__} save")
        assert live_entries(alice, "story.md") == [guid]
        assert live_entries(bob, "story.md") == [guid]
    # Bob's doc was edited, never replaced: the first line was inserted exactly once.
    assert bob.text("story.md") == text


def test_a_trace_of_saves_arrives_byte_for_byte(share_of: Share) -> None:
    trace = load_trace("seph-blog1")
    alice, bob = share_of("alice", "bob")
    path = alice.folder / "blog.md"
    text = trace.start_content
    path.write_text(text, encoding="utf-8")
    chunk = 2500
    for start in range(0, len(trace.patches), chunk):
        for patch in trace.patches[start : start + chunk]:
            text = text[: patch.pos] + patch.insert + text[patch.pos + patch.delete :]
        temp_then_rename(path, text)
    assert text == trace.end_content
    wanted = trace.end_content.encode()
    wait_for(lambda: read(bob.folder / "blog.md") == wanted, "the trace's endContent at bob", 120)
    assert alice.text("blog.md") == trace.end_content
