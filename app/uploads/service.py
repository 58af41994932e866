"""Uploads: files and rows agree.

A received file is checked and (for images) re-encoded into a temporary; then its row is
committed, in a transaction that first locks the owner (and the row the file is for) and checks
the quota (app/uploads/guard.py); then the temporary is moved into place. Whatever fails before
the move, the temporaries are deleted. Files a change replaces or deletes are removed only after
the transaction that let go of them has committed. app/uploads/storage_check.py finds what a
crash between those steps could leave behind.

Uploads know no other domain: a row that holds one file (a user's avatar, a post's cover) comes
as a `Slot` its own domain builds (app/users/avatars.py, app/posts/covers.py).
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import metrics
from app.core.errors import NotFoundError
from app.core.pagination import PageParams, paginate
from app.core.schemas import Page
from app.uploads import guard as guard
from app.uploads.errors import StorageUnavailableError
from app.uploads.limits import UploadLimits
from app.uploads.media import detect, process_image
from app.uploads.models import Upload, UploadKind
from app.uploads.multipart import ParsedForm, ReceivedFile
from app.uploads.storage import Storage, new_name

logger = logging.getLogger("quill.uploads")


@dataclass
class Prepared:
    """A checked file in a temporary, ready to be given a row and moved into place."""

    temp_path: Path
    original_name: str
    content_type: str
    ext: str
    size: int
    sha256: str


def _digest(path: Path) -> tuple[int, str]:
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def prepare(
    storage: Storage,
    received: ReceivedFile,
    *,
    limits: UploadLimits,
    allow_pdf: bool,
    fit: tuple[int, int] | None,
) -> Prepared:
    """Decide the type from the bytes; re-encode images (metadata gone, bombs refused)."""
    detected = detect(received.temp_path, allow_pdf=allow_pdf)
    if not detected.is_image:
        return Prepared(
            received.temp_path,
            received.original_name,
            detected.mime,
            detected.ext,
            received.size,
            received.sha256,
        )
    out = storage.temp_file(detected.ext)
    try:
        info = process_image(received.temp_path, out, workers=limits.decode_workers, fit=fit)
        size, sha = _digest(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return Prepared(out, received.original_name, info.mime, info.ext, size, sha)


def prepare_all(
    storage: Storage,
    form: ParsedForm,
    *,
    limits: UploadLimits,
    allow_pdf: bool,
    fit: tuple[int, int] | None = None,
) -> list[Prepared]:
    """All or nothing: one bad file refuses the request, and no temporary outlives it.

    No transaction is open here (UploadForm.read ended it), and none is opened: image work takes a
    while and must not hold a lock or snapshot.
    """
    prepared: list[Prepared] = []
    try:
        for received in form.files:
            prepared.append(prepare(storage, received, limits=limits, allow_pdf=allow_pdf, fit=fit))
    except BaseException:
        discard(prepared)
        raise
    return prepared


def discard(prepared: Iterable[Prepared]) -> None:
    """Delete prepared temporaries that will not be stored."""
    for item in prepared:
        item.temp_path.unlink(missing_ok=True)


def _row(owner_id: int, item: Prepared, kind: UploadKind, description: str | None) -> Upload:
    return Upload(
        owner_id=owner_id,
        kind=kind,
        filename=new_name(item.ext),
        original_name=item.original_name or f"file{item.ext}",
        description=description,
        content_type=item.content_type,
        size=item.size,
        sha256=item.sha256,
    )


def _commit(session: Session, prepared: list[Prepared]) -> None:
    """Commit what the caller added. If anything fails before the commit is through (a vanished
    owner or holder, the quota, the database), nothing was stored: the transaction is rolled back
    and the prepared temporaries are deleted, so none outlives the request."""
    try:
        session.commit()
    except BaseException:
        _abandon(session, prepared)
        raise


def _abandon(session: Session, prepared: list[Prepared]) -> None:
    try:
        discard(prepared)
    finally:
        session.rollback()


def _place(
    session: Session,
    storage: Storage,
    pairs: list[tuple[Upload, Prepared]],
    replaced: list[str],
    undo: Callable[[], None] | None = None,
) -> None:
    """Move the committed rows' files into place, then drop files let go of. If a move fails,
    the rows are taken back and `undo` clears whatever the commit pointed at them."""
    placed: list[str] = []
    try:
        for row, item in pairs:
            storage.save(item.temp_path, row.filename)
            placed.append(row.filename)
    except BaseException:
        # The rows must not outlive their files: take them back, then report the failure.
        for name in placed:
            storage.delete(name)
        discard(item for _, item in pairs)
        for row, _ in pairs:
            session.delete(row)
        if undo is not None:
            undo()
        session.commit()
        raise
    for row, item in pairs:
        metrics.count_stored(row.kind, item.size)
    remove_files(storage, replaced)


def remove_files(storage: Storage, names: Iterable[str | None]) -> None:
    """Remove files whose rows are already gone (committed). A failure only leaves a stray."""
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except (OSError, StorageUnavailableError):
            logger.exception("could not remove %s; `python -m app storage-check --fix` will", name)


def save_uploads(
    session: Session,
    *,
    storage: Storage,
    limits: UploadLimits,
    owner_id: int,
    form: ParsedForm,
    allow_pdf: bool,
) -> list[Upload]:
    """Store every file of `form` as the owner's uploads, all or none."""
    prepared = prepare_all(storage, form, limits=limits, allow_pdf=allow_pdf)
    description = form.fields.get("description") or None
    try:
        guard.lock_owner(session, owner_id=owner_id)
        adding = sum(item.size for item in prepared)
        guard.check_quota(session, quota=limits.quota_bytes, owner_id=owner_id, adding=adding)
        pairs = [(_row(owner_id, item, UploadKind.UPLOAD, description), item) for item in prepared]
        session.add_all(row for row, _ in pairs)
    except BaseException:
        _abandon(session, prepared)
        raise
    _commit(session, prepared)
    _place(session, storage, pairs, replaced=[])
    return [row for row, _ in pairs]


@dataclass(frozen=True)
class Slot:
    """The one file a row holds by its stored name (a user's avatar, a post's cover), as the row's
    own domain reaches it: uploads never see the row's model.

    `lock` runs first in the transaction that changes the file: it locks the row, reads it afresh
    (`guard.lock_row`), raises the domain's error if the row is gone, and returns the name the row
    holds now. `attach` points the row at another name (None: at nothing)."""

    kind: UploadKind
    owner_id: int  # whose quota the file counts against
    fit: tuple[int, int]  # images are scaled down to fit this box
    lock: Callable[[Session], str | None]
    attach: Callable[[str | None], None]


def replace_file(
    session: Session, *, storage: Storage, limits: UploadLimits, slot: Slot, form: ParsedForm
) -> None:
    """Store the image in `form` as the slot's file, letting go of the one it held."""
    item = prepare_all(storage, form, limits=limits, allow_pdf=False, fit=slot.fit)[0]
    try:
        guard.lock_owner(session, owner_id=slot.owner_id)
        # Read under the lock: another replacement may have committed while this one streamed.
        old_name = slot.lock(session)
        freeing = guard.size_of(session, old_name)
        guard.check_quota(
            session,
            quota=limits.quota_bytes,
            owner_id=slot.owner_id,
            adding=item.size,
            freeing=freeing,
        )
        row = _row(slot.owner_id, item, slot.kind, None)
        session.add(row)
        if old_name:
            delete_rows(session, [old_name])
        slot.attach(row.filename)
    except BaseException:
        _abandon(session, [item])
        raise
    _commit(session, [item])
    _place(
        session,
        storage,
        [(row, item)],
        replaced=[old_name] if old_name else [],
        # The old row is gone with the commit: point at nothing rather than at a missing file.
        undo=lambda: slot.attach(None),
    )


def clear_file(session: Session, *, storage: Storage, slot: Slot) -> None:
    """Let go of the slot's file, if it holds one: its row, then (committed) the file."""
    old_name = slot.lock(session)
    if old_name is None:
        session.commit()  # ends the transaction the lock began
        return
    slot.attach(None)
    delete_rows(session, [old_name])
    session.commit()
    remove_files(storage, [old_name])


def delete_rows(session: Session, names: list[str]) -> None:
    """Delete the rows of these stored names (the caller commits, then `remove_files`)."""
    for row in session.scalars(select(Upload).where(Upload.filename.in_(names))):
        session.delete(row)


def list_uploads(session: Session, *, owner_id: int, params: PageParams) -> Page[Any]:
    """A page of the owner's /uploads files (not avatars or covers), newest first, as rows."""
    stmt = (
        select(Upload)
        .where(Upload.owner_id == owner_id, Upload.kind == UploadKind.UPLOAD)
        .order_by(Upload.created_at.desc(), Upload.id.desc())
    )
    return paginate(session, stmt, params)


def delete_upload(session: Session, *, storage: Storage, owner_id: int, upload_id: int) -> None:
    row = session.get(Upload, upload_id)
    # Someone else's file, or an avatar/cover (removed through their own routes), is not found.
    if row is None or row.owner_id != owner_id or row.kind != UploadKind.UPLOAD:
        raise NotFoundError("Upload not found")
    session.delete(row)
    session.commit()
    remove_files(storage, [row.filename])


def owned_file_names(session: Session, owner_id: int) -> list[str]:
    """Every stored name the owner has, of every kind (to remove them with the account)."""
    return list(session.scalars(select(Upload.filename).where(Upload.owner_id == owner_id)))
