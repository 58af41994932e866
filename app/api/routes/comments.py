"""Comments: a post's page of them (GET/POST /posts/{post_id}/comments), and one comment's change
and deletion (/comments/{comment_id}).

No prefix: the post's comments live under /posts/{post_id}, which the posts router's one-segment
`/{post_id}` routes do not match, so neither router shadows the other.
"""

from fastapi import APIRouter, Response, status

from app.api.caching import PublicReadRoute
from app.api.deps import (
    CurrentUser,
    DeletableComment,
    EditableComment,
    IdPath,
    OptionalUser,
    PageDep,
    SessionDep,
)
from app.api.documented import CALLER, DATABASE, JSON_BODY
from app.api.routes.posts import OPTIONAL_AUTH
from app.auth.errors import InvalidTokenError
from app.comments import service as comments
from app.comments.models import Comment
from app.comments.schemas import CommentCreate, CommentPage, CommentPublic, CommentUpdate
from app.core.database import read_in_thread
from app.core.errors import NotFoundError, PermissionDeniedError, documented
from app.core.schemas import Page

# PublicReadRoute: the list answers an ETag and honours If-None-Match (app.api.caching).
router = APIRouter(tags=["comments"], responses=documented(*DATABASE), route_class=PublicReadRoute)


@router.get(
    "/posts/{post_id}/comments",
    response_model=CommentPage,
    responses=documented(InvalidTokenError, NotFoundError, 422),
    openapi_extra=OPTIONAL_AUTH,
    summary="A post's comments with their authors, oldest first",
    description="404 where the post is not visible to the caller (someone else's draft or "
    "scheduled post, admins included).",
)
async def list_comments(
    post_id: IdPath, viewer: OptionalUser, session: SessionDep, page: PageDep
) -> Page[CommentPublic]:
    return await read_in_thread(
        session, comments.list_comments, session, post_id=post_id, viewer=viewer, params=page
    )


@router.post(
    "/posts/{post_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    responses=documented(*CALLER, NotFoundError, *JSON_BODY),
    summary="Comment on a post you can see",
    description="`body`: 1..5,000 characters; tab, CR and LF are the only control characters "
    "allowed. A post the caller cannot see is 404.",
)
def create_comment(
    post_id: IdPath, body: CommentCreate, user: CurrentUser, session: SessionDep
) -> Comment:
    return comments.create_comment(session, post_id=post_id, author=user, data=body)


@router.patch(
    "/comments/{comment_id}",
    response_model=CommentPublic,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, *JSON_BODY),
    summary="Change your comment's text",
    description="Its author only: 403 for anyone else who can see it (admins included), 404 "
    "where its post is not visible to the caller. `updated_at` moves, `created_at` does not.",
)
def update_comment(body: CommentUpdate, comment: EditableComment, session: SessionDep) -> Comment:
    return comments.update_comment(session, comment=comment, data=body)


@router.delete(
    "/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(*CALLER, PermissionDeniedError, NotFoundError, 422),
    summary="Delete a comment (its author, the post's author, or an admin)",
    description="403 for anyone else who can see it, 404 where its post is not visible to the "
    "caller. The post's `comment_count` drops with it.",
)
def delete_comment(comment: DeletableComment, session: SessionDep) -> Response:
    comments.delete_comment(session, comment=comment)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
