"""Finding (and fixing) what a crash between an upload's steps could leave: files without rows,
rows without files, old temporaries. `python -m app storage-check [--fix]`."""

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.core.models import Base
from app.uploads.models import HOLDS_FILE, Upload
from app.uploads.service import delete_rows, remove_files
from app.uploads.storage import Storage


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
    temporaries = sum(1 for _ in storage.tmp_dir.iterdir())
    return StorageReport(sorted(on_disk - in_db), sorted(in_db - on_disk), temporaries)


def file_name_columns() -> Iterator[InstrumentedAttribute[str | None]]:
    """Every column that holds a stored file's name (`file_name_column`), in the models loaded."""
    for mapper in Base.registry.mappers:
        for prop in mapper.column_attrs:
            if any(column.info.get(HOLDS_FILE) for column in prop.columns):
                yield getattr(mapper.class_, prop.key)


def fix_storage(session: Session, storage: Storage, report: StorageReport) -> None:
    """Remove stray files, rows whose file is gone (and the references to them: avatars, covers),
    and temporaries older than an hour."""
    missing = report.rows_without_files
    if missing:
        for column in file_name_columns():
            session.execute(update(column.class_).where(column.in_(missing)).values({column: None}))
        delete_rows(session, missing)
        session.commit()
    remove_files(storage, report.files_without_rows)
    storage.purge_temp()
