"""The public list reads rows of columns instead of ORM objects: it must answer what the objects
would."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.posts.models import Post
from app.posts.public import AUTHOR_COLUMNS, AUTHOR_PREFIX, POST_COLUMNS
from app.posts.schemas import PostPublic
from app.users.models import User
from app.users.schemas import UserPublic
from tests.utils.posts import post_row

# Fields that are a stored file's URL, and the column holding the file's name.
FILE_URL_COLUMNS = {"cover_image_url": "cover_name", "avatar_url": "avatar_name"}


def test_list_items_match_the_single_post(client: TestClient, make_user, db: Session) -> None:
    """The list reads rows, GET /posts/{id} an object: both must answer the same post."""
    author = make_user(name="Writer")
    author.bio = "Writes things"
    db.add(post_row(author.id, "Same", "Either way", published=True))
    db.commit()
    listed = client.get("/posts").json()["data"][0]
    assert listed == client.get(f"/posts/{listed['id']}").json()
    assert listed["author"]["bio"] == "Writes things"


def test_list_columns_cover_every_stored_field() -> None:
    """The list selects the response's fields that are columns; a field the models grow (a column
    or a property) must be added to it, or the list would answer null where the post has a
    value."""
    selected = {column.name for column in POST_COLUMNS}
    selected_author = {column.name.removeprefix(AUTHOR_PREFIX) for column in AUTHOR_COLUMNS}
    for field in PostPublic.model_fields:
        source = FILE_URL_COLUMNS.get(field, field)
        assert source in selected or not hasattr(Post, field), field
    for field in UserPublic.model_fields:
        source = FILE_URL_COLUMNS.get(field, field)
        assert source in selected_author or not hasattr(User, field), field


def test_list_items_with_files_match_the_single_post(
    client: TestClient, make_user, db: Session
) -> None:
    author = make_user(name="Pictured")
    author.avatar_name = "A" * 32 + ".png"
    db.add(post_row(author.id, "Covered", published=True, cover_name="C" * 32 + ".jpg"))
    db.commit()
    listed = client.get("/posts").json()["data"][0]
    assert listed["cover_image_url"] == "/files/" + "C" * 32 + ".jpg"
    assert listed["author"]["avatar_url"] == "/files/" + "A" * 32 + ".png"
    assert listed == client.get(f"/posts/{listed['id']}").json()
