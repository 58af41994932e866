"""LocalStorage: atomic saves through `.tmp`, names that cannot escape the root, no leftovers."""

import errno
import os
import time
from pathlib import Path

import pytest

from app.core.errors import ERROR_TABLE, NotFoundError
from app.uploads.storage import LocalStorage, Storage, StoredFileNotFoundError, new_name, safe_name


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def _stored(storage: LocalStorage, content: bytes, ext: str = ".png") -> str:
    name = new_name(ext)
    src = storage.temp_file()
    src.write_bytes(content)
    storage.save(src, name)
    return name


def test_local_storage_satisfies_the_protocol(storage: LocalStorage) -> None:
    assert isinstance(storage, Storage)


@pytest.mark.parametrize("ext", [".jpg", "png", ".webp", ".gif", ".pdf"])
def test_new_name_is_random_safe_and_keeps_the_extension(ext: str) -> None:
    names = {new_name(ext) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert safe_name(name)
        assert name.endswith(ext if ext.startswith(".") else "." + ext)


@pytest.mark.parametrize("ext", [".exe", ".svg", ".html", "", ".PNG"])
def test_new_name_refuses_other_extensions(ext: str) -> None:
    with pytest.raises(ValueError):
        new_name(ext)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../" + "a" * 20 + ".png",
        "dir/" + "a" * 20 + ".png",
        "dir\\" + "a" * 20 + ".png",
        "a" * 15 + ".png",  # too short to be ours
        "a" * 65 + ".png",
        "a" * 20 + ".PNG",
        "a" * 20 + ".svg",
        "a" * 20 + ".png\n",
        "a" * 20 + ".png\x00.jpg",
        "a" * 20 + "\x00.png",
        "%2e%2e%2f" + "a" * 20 + ".png",
        "a" * 20 + ".png.html",
        "a" * 20,
        ".png",
        "",
        None,
        b"a" * 20 + b".png",
    ],
)
def test_safe_name_refuses_path_tricks(name: object) -> None:
    assert not safe_name(name)


def test_save_moves_the_temp_file_into_place(storage: LocalStorage) -> None:
    src = storage.temp_file()
    assert src.parent == storage.root / ".tmp"
    src.write_bytes(b"hello")
    name = new_name(".pdf")

    storage.save(src, name)

    assert not src.exists()
    assert (storage.root / name).read_bytes() == b"hello"
    assert storage.exists(name)
    assert list(storage.names()) == [name]
    assert not any(storage.tmp_dir.iterdir())


def test_save_replaces_an_existing_file_whole(storage: LocalStorage) -> None:
    name = _stored(storage, b"old")
    src = storage.temp_file()
    src.write_bytes(b"new contents")
    storage.save(src, name)
    with storage.open(name) as fh:
        assert fh.read() == b"new contents"


def test_save_refuses_an_unsafe_name_and_leaves_the_source(
    storage: LocalStorage, tmp_path: Path
) -> None:
    src = storage.temp_file()
    src.write_bytes(b"x")
    with pytest.raises(ValueError):
        storage.save(src, "../escaped.png")
    assert src.exists()
    assert not (tmp_path / "escaped.png").exists()


def test_save_across_filesystems_still_ends_in_one_rename(
    storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere.bin"
    outside.write_bytes(b"from another disk")
    real_replace = Path.replace

    def replace(self: Path, target: Path) -> Path:
        # Simulate the kernel refusing a rename between filesystems, for the outside file only.
        if self == outside:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    name = new_name(".gif")
    storage.save(outside, name)

    assert (storage.root / name).read_bytes() == b"from another disk"
    assert not outside.exists()
    assert not any(storage.tmp_dir.iterdir())


def test_open_missing_or_unsafe_names_is_not_found(storage: LocalStorage) -> None:
    for name in (new_name(".png"), "../store/x.png", "a" * 20 + ".txt"):
        with pytest.raises(StoredFileNotFoundError):
            storage.open(name)
        with pytest.raises(StoredFileNotFoundError):
            storage.path(name)
    # The routes rely on this answering 404 through the error table.
    assert issubclass(StoredFileNotFoundError, NotFoundError)
    assert ERROR_TABLE[NotFoundError][0] == 404


def test_open_and_path_point_at_the_stored_bytes(storage: LocalStorage) -> None:
    name = _stored(storage, b"\x89PNG data")
    with storage.open(name) as fh:
        assert fh.read() == b"\x89PNG data"
    assert storage.path(name) == storage.root / name


def test_delete_removes_and_tolerates_missing(storage: LocalStorage) -> None:
    name = _stored(storage, b"data")
    storage.delete(name)
    assert not storage.exists(name)
    storage.delete(name)  # already gone: fine
    assert list(storage.names()) == []


def test_delete_with_an_unsafe_name_touches_nothing(storage: LocalStorage, tmp_path: Path) -> None:
    victim = tmp_path / ("v" * 20 + ".png")
    victim.write_bytes(b"keep me")
    storage.delete("../" + victim.name)
    assert victim.exists()


def test_exists_is_false_for_unsafe_names(storage: LocalStorage, tmp_path: Path) -> None:
    (tmp_path / "store" / "notes.txt").write_text("not ours")
    assert not storage.exists("notes.txt")
    assert not storage.exists("../store/notes.txt")


def test_url(storage: LocalStorage) -> None:
    name = new_name(".webp")
    assert storage.url(name) == "/files/" + name
    with pytest.raises(ValueError):
        storage.url("../secret.webp")


def test_names_lists_only_stored_files(storage: LocalStorage) -> None:
    kept = {_stored(storage, b"1", ".jpg"), _stored(storage, b"2", ".pdf")}
    (storage.root / "README.txt").write_text("stray")
    (storage.root / ("d" * 20 + ".png")).mkdir()
    storage.temp_file()  # in .tmp: not a stored file
    assert set(storage.names()) == kept


def test_temporary_removes_the_file_on_exit_even_on_error(storage: LocalStorage) -> None:
    with pytest.raises(RuntimeError), storage.temporary(".part") as path:
        path.write_bytes(b"half")
        assert path.parent == storage.tmp_dir
        raise RuntimeError("upload failed")
    assert not path.exists()
    assert not any(storage.tmp_dir.iterdir())


def test_temporary_that_was_saved_is_not_an_error(storage: LocalStorage) -> None:
    name = new_name(".png")
    with storage.temporary() as path:
        path.write_bytes(b"done")
        storage.save(path, name)
    assert storage.exists(name)


def test_purge_temp_removes_only_old_leftovers(storage: LocalStorage) -> None:
    old = storage.temp_file()
    fresh = storage.temp_file()
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert storage.purge_temp(older_than_seconds=3600) == 1
    assert not old.exists()
    assert fresh.exists()
