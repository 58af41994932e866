"""The people of the comment tests: alice writes posts, bob and carol comment, admin moderates."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.utils.accounts import bearer, login
from tests.utils.comments import Person


@pytest.fixture
def people(client: TestClient, make_user: Callable[..., Any]) -> dict[str, Person]:
    found = {}
    for name in ("alice", "bob", "carol", "admin"):
        user = make_user(f"{name}@example.com", name=name.title(), is_admin=name == "admin")
        found[name] = Person(user.id, bearer(login(client, user.email)["access_token"]))
    return found
