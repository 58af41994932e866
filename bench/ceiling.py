"""The ceilings Quill is measured against: a bare FastAPI app with no middleware, no auth, no
dependencies and no Pydantic response model.

`GET /posts` runs the very statements `GET /posts` runs (built by the same function, on the same
engine) and answers the same JSON, built from the rows by hand; `GET /const` answers a constant
dict; `GET /naive/posts` is the list before issue 13 (bench/naive.py), for the scale bench.
It runs with Quill's process settings (engine and pool, thread limiter, collector), so
whatever Quill is slower by is what its own layers cost. Served by `uvicorn bench.ceiling:app`
with DATABASE_URL set.
"""

import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.core.config import get_settings
from app.core.database import THREADPOOL_SIZE, Database, for_requests
from app.core.pagination import PageParams
from app.core.runtime import settle_gc
from app.posts.public import AUTHOR_PREFIX, page_query
from bench import naive


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    to_thread.current_default_thread_limiter().total_tokens = THREADPOOL_SIZE
    settle_gc()
    yield


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)

# The engine as Quill's request sessions use it (on SQLite, no BEGIN for reads), built from the
# same settings the way create_app builds Quill's.
ENGINE = for_requests(Database.from_settings(get_settings()).engine)
AUTHOR = AUTHOR_PREFIX


def _json(value: Any) -> Any:
    # Pydantic writes UTC as "Z"; isoformat as "+00:00". Same instant, same text as Quill's.
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


@app.get("/const")
async def const() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.get("/posts")
def posts(page: int = 1, per_page: int = 10) -> JSONResponse:
    query = page_query(ENGINE.dialect.name, PageParams(page, per_page))
    with ENGINE.connect() as conn:
        result = conn.execute(query.rows, query.parameters)
        keys = list(result.keys())
        rows = result.all()
        if query.total_in_rows and rows:
            total = int(rows[0][-1])  # a sum: numeric (Decimal) on PostgreSQL
            keys, rows = keys[:-1], [row[:-1] for row in rows]
        elif page == 1 and len(rows) < per_page:
            total = len(rows)
        else:
            total = int(conn.scalar(query.total, query.parameters) or 0)
    return JSONResponse(page_json(keys, rows, total, page, per_page))


@app.get("/naive/posts")
def naive_posts(
    page: int = 1,
    per_page: int = 10,
    author_id: int | None = None,
    tag: str | None = None,
    q: str | None = None,
) -> JSONResponse:
    """The scale bench's ceiling: the list as it was before issue 13 (bench/naive.py), count(*)
    and OFFSET whatever the size of the table."""
    rows_stmt, counted = naive.statements(author_id=author_id, tag=tag, q=q)
    with ENGINE.connect() as conn:
        result = conn.execute(rows_stmt.limit(per_page).offset((page - 1) * per_page))
        keys = list(result.keys())
        rows = result.all()
        total = conn.scalar(counted) or 0
    return JSONResponse(page_json(keys, rows, total, page, per_page))


def page_json(
    keys: list[str], rows: Sequence[Any], total: int, page: int, per_page: int
) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for row in rows:
        post: dict[str, Any] = {}
        author: dict[str, Any] = {}
        for key, value in zip(keys, row, strict=True):
            if key.startswith(AUTHOR):
                author[key.removeprefix(AUTHOR)] = _json(value)
            else:
                post[key] = _json(value)
        cover, avatar = post.pop("cover_name"), author.pop("avatar_name")
        post["cover_image_url"] = f"/files/{cover}" if cover else None
        author["avatar_url"] = f"/files/{avatar}" if avatar else None
        data.append({**post, "author": author})
    total_pages = math.ceil(total / per_page) if total else 0
    return {
        "data": data,
        "total": total,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "has_next": page < total_pages,
        "has_prev": page > 1,
    }
