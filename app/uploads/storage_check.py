"""Finding (and fixing) what a crash between an upload's steps could leave: files without rows,
rows without files, old temporaries. `python -m app storage-check [--fix]`."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.posts.models import Post
from app.uploads.models import Upload
from app.uploads.service import delete_rows, remove_files
from app.uploads.storage import Storage
from app.users.models import User


@dataclass
class StorageReport:
    files_without_rows: list[str]
    rows_without_files: list[str]
    temporaries: int

    @property
    def clean(self) -> bool:
        return not (self.files_without_rows or self.rows_without_files)


def storage_report(session: Session, storage: Storage) -> StorageReport:
    on_disk = set(storage.names())
    in_db = set(session.scalars(select(Upload.filename)))
    temporaries = sum(1 for _ in storage.tmp_dir.iterdir()) if hasattr(storage, "tmp_dir") else 0
    return StorageReport(sorted(on_disk - in_db), sorted(in_db - on_disk), temporaries)


def fix_storage(session: Session, storage: Storage, report: StorageReport) -> None:
    """Remove stray files, rows whose file is gone (and the avatar/cover references to them),
    and temporaries older than an hour."""
    missing = report.rows_without_files
    if missing:
        for user in session.scalars(select(User).where(User.avatar_name.in_(missing))):
            user.avatar_name = None
        for post in session.scalars(select(Post).where(Post.cover_name.in_(missing))):
            post.cover_name = None
        delete_rows(session, missing)
        session.commit()
    remove_files(storage, report.files_without_rows)
    storage.purge_temp()
