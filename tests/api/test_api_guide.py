"""docs/API.md, the guide a clone carries, names exactly the operations the server has."""

import re
from pathlib import Path

from fastapi.testclient import TestClient

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "API.md"
# `GET /posts/{post_id}` in backticks: how the guide names an operation.
OPERATION = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)")


def test_guide_lists_every_operation_and_only_those(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    named = set(OPERATION.findall(GUIDE.read_text(encoding="utf-8")))
    assert served - named == set(), "operations missing from docs/API.md"
    assert named - served == set(), "docs/API.md names operations the server does not have"


def test_readme_points_at_the_guide_in_the_repo() -> None:
    readme = (GUIDE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/API.md" in readme
    assert "../shared" not in readme
