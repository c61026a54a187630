"""``daemon.sharefolders``: a share's folder and marker are made only on the share's
first start at its path; once set up, a missing folder or marker is a reason not to
start, and nothing is made."""

from __future__ import annotations

from pathlib import Path

from p2psync.config import ShareConfig
from p2psync.control.home import Home
from p2psync.daemon.sharefolders import (
    adopt_old_home,
    members_dir,
    prepare,
    record_path,
    records_dir,
    set_up_folder,
    was_set_up,
)
from p2psync.ids import ShareId
from p2psync.storage.layout import marker_dir


def test_a_share_never_set_up_is_made_and_recorded(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    share = ShareConfig(ShareId.new(), tmp_path / "a" / "notes")
    assert prepare(home, share) is None
    assert marker_dir(share.path).is_dir()
    assert was_set_up(home, share)


def test_a_share_set_up_whose_folder_or_marker_went_is_not_made_again(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    share = ShareConfig(ShareId.new(), tmp_path / "notes")
    set_up_folder(home, share)
    marker_dir(share.path).rmdir()
    unfit = prepare(home, share)
    assert unfit is not None
    assert "not a p2psync share folder any more" in unfit.sentence()
    assert "starts by itself" in unfit.sentence()
    assert list(share.path.iterdir()) == []
    share.path.rmdir()
    unfit = prepare(home, share)
    assert unfit is not None
    assert "is missing" in unfit.why
    assert not share.path.exists()


def test_a_path_changed_by_hand_is_a_new_folder(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    share = ShareConfig(ShareId.new(), tmp_path / "notes")
    set_up_folder(home, share)
    moved = ShareConfig(share.id, tmp_path / "elsewhere")
    assert prepare(home, moved) is None
    assert marker_dir(moved.path).is_dir()
    assert was_set_up(home, moved)
    assert not was_set_up(home, share)


def test_a_file_as_path_is_unfit_and_left_alone(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    share = ShareConfig(ShareId.new(), tmp_path / "a-file")
    share.path.write_text("x")
    unfit = prepare(home, share)
    assert unfit is not None
    assert "is a file, not a folder" in unfit.why
    assert share.path.read_text() == "x"
    assert not record_path(home, share.id).exists()


def test_a_home_from_before_the_records_counts_shares_with_a_member_map(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    ran = ShareConfig(ShareId.new(), tmp_path / "ran")
    by_hand = ShareConfig(ShareId.new(), tmp_path / "by-hand")
    members_dir(home).mkdir(parents=True)
    (members_dir(home) / f"{ran.id}.json").write_text("{}")
    adopt_old_home(home, [ran, by_hand])
    assert records_dir(home).is_dir()
    assert was_set_up(home, ran)
    assert not was_set_up(home, by_hand)
    assert prepare(home, ran) is not None
    assert prepare(home, by_hand) is None


def test_a_share_joined_again_after_its_folder_was_deleted_is_made(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    share = ShareConfig(ShareId.new(), tmp_path / "notes")
    set_up_folder(home, share)
    marker_dir(share.path).rmdir()  # removed from the config, its folder emptied
    assert prepare(home, share) is not None
    assert prepare(home, share, new=True) is None
    assert marker_dir(share.path).is_dir()
