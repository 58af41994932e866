"""The ceilings Quill is measured against: a bare FastAPI app with no middleware, no auth, no
dependencies and no Pydantic response model.

`GET /posts` runs the very statements `GET /posts` runs (built by the same functions, on the same
engine) and answers the same JSON; `GET /const` answers a constant dict. Whatever Quill is slower
by is what its own layers cost. Served by `uvicorn bench.ceiling:app` with DATABASE_URL set.
"""

import math
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.database import engine
from app.pagination import count_query
from app.services.posts import published_query

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

POST_FIELDS = ("id", "title", "content", "published", "author_id")
STATEMENT = published_query()


def _iso(moment: datetime) -> str:
    # Pydantic writes UTC as "Z"; isoformat as "+00:00". Same instant, same text as Quill's.
    return moment.isoformat().replace("+00:00", "Z")


@app.get("/const")
async def const() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.get("/posts")
def posts(page: int = 1, per_page: int = 10) -> JSONResponse:
    with engine.connect() as conn:
        result = conn.execute(STATEMENT.limit(per_page).offset((page - 1) * per_page))
        # The joined author's columns come back labelled id_1, created_at_1 and so on.
        at = {key: index for index, key in enumerate(result.keys())}
        rows = result.all()
        if page == 1 and len(rows) < per_page:
            total = len(rows)
        else:
            total = conn.scalar(count_query(STATEMENT)) or 0
    data: list[dict[str, Any]] = [
        {
            **{field: row[at[field]] for field in POST_FIELDS},
            "cover_image_url": None,
            "created_at": _iso(row[at["created_at"]]),
            "updated_at": _iso(row[at["updated_at"]]),
            "author": {
                "id": row[at["id_1"]],
                "name": row[at["name"]],
                "bio": row[at["bio"]],
                "avatar_url": None,
                "created_at": _iso(row[at["created_at_1"]]),
            },
        }
        for row in rows
    ]
    total_pages = math.ceil(total / per_page) if total else 0
    return JSONResponse(
        {
            "data": data,
            "total": total,
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
            "has_next": page < total_pages,
            "has_prev": page > 1,
        }
    )
