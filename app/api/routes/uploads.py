"""/uploads: store images (and PDFs), list and delete your files."""

from fastapi import APIRouter, Request, Response, status

from app.api.deps import CurrentUser, IdPath, PageDep, SessionDep, StorageDep, UploadLimitsDep
from app.api.documented import CALLER, DATABASE, UPLOAD
from app.core.errors import NotFoundError, documented
from app.core.schemas import Page
from app.uploads import service as uploads
from app.uploads.forms import UploadForm
from app.uploads.schemas import UploadBatch, UploadPage, UploadPublic

router = APIRouter(prefix="/uploads", tags=["uploads"], responses=documented(*CALLER, *DATABASE))

TEXT_FIELDS = {"description": 500}
ONE_IMAGE = UploadForm("file", text_fields=TEXT_FIELDS)
MANY_FILES = UploadForm("files", max_files=10, text_fields=TEXT_FIELDS)
# The `description` field follows the text rules of every input: a 422 VALIDATION_FAILED.
UPLOAD_ERRORS = documented(*UPLOAD, 422)


@router.post(
    "/image",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadPublic,
    responses=UPLOAD_ERRORS,
    summary="Upload one image (JPEG, PNG, WebP, GIF)",
    description="Multipart `file`, optional `description`. The type is read from the bytes; the "
    "image is re-encoded without metadata. 413 over `MAX_UPLOAD_BYTES`, 415 for anything else.",
    **ONE_IMAGE.route_options(),
)
async def upload_image(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    limits: UploadLimitsDep,
) -> UploadPublic:
    rows = await ONE_IMAGE.store(
        request,
        storage,
        session,
        uploads.save_uploads,
        limits=limits,
        owner_id=user.id,
        allow_pdf=False,
    )
    return UploadPublic.model_validate(rows[0])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadBatch,
    responses=UPLOAD_ERRORS,
    summary="Upload 1 to 10 files (images or PDF)",
    description="Multipart `files` (repeated), optional `description` for all of them. All or "
    "nothing: one refused file refuses the request.",
    **MANY_FILES.route_options(),
)
async def upload_files(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    limits: UploadLimitsDep,
) -> UploadBatch:
    rows = await MANY_FILES.store(
        request,
        storage,
        session,
        uploads.save_uploads,
        limits=limits,
        owner_id=user.id,
        allow_pdf=True,
    )
    return UploadBatch(uploaded=len(rows), files=[UploadPublic.model_validate(r) for r in rows])


@router.get(
    "",
    response_model=UploadPage,
    responses=documented(422),
    summary="Your uploads, newest first",
)
def list_uploads(user: CurrentUser, session: SessionDep, page: PageDep) -> Page[UploadPublic]:
    rows = uploads.list_uploads(session, owner_id=user.id, params=page)
    return Page[UploadPublic].model_validate(rows, from_attributes=True)


@router.delete(
    "/{upload_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(NotFoundError, 422),
    summary="Delete one of your uploads, and its file",
)
def delete_upload(
    upload_id: IdPath, user: CurrentUser, session: SessionDep, storage: StorageDep
) -> Response:
    uploads.delete_upload(session, storage=storage, owner_id=user.id, upload_id=upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
