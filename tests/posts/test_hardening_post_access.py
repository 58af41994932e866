"""Who may change a post (issue 9, finding 5): a draft is 404 to everyone but its author, admins
included, on PATCH and DELETE as on GET; an admin may moderate published posts only."""

import pytest
from fastapi.testclient import TestClient

from tests.utils.accounts import bearer, login
from tests.utils.files import image_bytes
from tests.utils.posts import make_post

NOT_FOUND = 404


@pytest.fixture
def people(client: TestClient, make_user) -> dict[str, dict[str, str]]:
    headers = {}
    for name, is_admin in (("alice", False), ("bob", False), ("admin", True)):
        user = make_user(f"{name}@example.com", name=name.title(), is_admin=is_admin)
        headers[name] = bearer(login(client, user.email)["access_token"])
    return headers


def _as_author(client: TestClient, headers: dict[str, str], post_id: int) -> dict:
    response = client.get(f"/posts/{post_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _assert_not_found(response) -> None:
    assert response.status_code == NOT_FOUND, response.text
    body = response.json()
    assert body["code"] == "NOT_FOUND" and body["success"] is False
    # Nothing of the draft leaks into the answer.
    assert "content" not in body and "title" not in body


@pytest.mark.parametrize("who", ["admin", "bob"])
def test_someone_elses_draft_is_404_on_patch_and_delete(
    client: TestClient, people: dict[str, dict[str, str]], who: str
) -> None:
    draft = make_post(client, people["alice"], title="Secret plan", content="Draft text")
    path = f"/posts/{draft['id']}"
    before = _as_author(client, people["alice"], draft["id"])

    _assert_not_found(client.patch(path, headers=people[who], json={}))
    _assert_not_found(client.patch(path, headers=people[who], json={"published": True}))
    _assert_not_found(client.patch(path, headers=people[who], json={"title": "Taken"}))
    _assert_not_found(client.delete(path, headers=people[who]))

    # The draft is still there, untouched and unpublished.
    assert _as_author(client, people["alice"], draft["id"]) == before
    assert client.get("/posts").json()["total"] == 0


def test_admin_moderates_a_published_post(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    post = make_post(client, people["alice"], published=True)
    path = f"/posts/{post['id']}"
    edited = client.patch(path, headers=people["admin"], json={"title": "Moderated"})
    assert edited.status_code == 200 and edited.json()["title"] == "Moderated"
    assert client.patch(path, headers=people["admin"], json={}).status_code == 200
    assert client.delete(path, headers=people["admin"]).status_code == 204
    assert client.get(path).status_code == NOT_FOUND


def test_other_user_on_a_published_post_is_403(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    post = make_post(client, people["alice"], published=True)
    path = f"/posts/{post['id']}"
    for response in (
        client.patch(path, headers=people["bob"], json={}),
        client.patch(path, headers=people["bob"], json={"title": "Mine"}),
        client.delete(path, headers=people["bob"]),
    ):
        assert response.status_code == 403 and response.json()["code"] == "FORBIDDEN"
    assert client.get(path).json()["title"] == post["title"]


def test_author_still_changes_and_deletes_own_draft(
    client: TestClient, people: dict[str, dict[str, str]]
) -> None:
    draft = make_post(client, people["alice"])
    path = f"/posts/{draft['id']}"
    changed = client.patch(path, headers=people["alice"], json={"title": "Better"})
    assert changed.status_code == 200 and changed.json()["title"] == "Better"
    assert client.delete(path, headers=people["alice"]).status_code == 204
    _assert_not_found(client.get(path, headers=people["alice"]))


def test_cover_stays_author_only(client: TestClient, people: dict[str, dict[str, str]]) -> None:
    published = make_post(client, people["alice"], published=True)
    draft = make_post(client, people["alice"])
    cover = image_bytes("PNG", (64, 32))

    def set_cover(post_id: int, headers: dict[str, str]):
        return client.patch(
            f"/posts/{post_id}/cover",
            headers=headers,
            files={"file": ("c.png", cover, "image/png")},
        )

    for who in ("admin", "bob"):
        assert set_cover(published["id"], people[who]).status_code == 403
        _assert_not_found(set_cover(draft["id"], people[who]))
    assert set_cover(draft["id"], people["alice"]).status_code == 200
    assert set_cover(published["id"], people["alice"]).status_code == 200
