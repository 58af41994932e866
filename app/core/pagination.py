"""Page-shaped lists: one count query and one page query, for every list in the API."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.core.schemas import Page

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
DEFAULT_PER_PAGE = 10

Item = TypeVar("Item")


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def paginate(
    session: Session,
    stmt: Select[Any],
    params: PageParams,
    *,
    transform: Callable[[Any], Item] | None = None,
    count: Select[Any] | None = None,
) -> Page[Any]:
    """Run `stmt` (already ordered) as one page plus its total.

    A statement of one ORM entity yields the entities, one of columns yields rows. `count` is
    what to count for the total when that is cheaper than `stmt` itself (no joins, no columns).
    The count is skipped when the first page is not full: then the page is everything there is.
    """
    result = session.execute(stmt.limit(params.per_page).offset(params.offset))
    rows: Sequence[Any] = result.scalars().all() if _entity(stmt) else result.all()
    if params.page == 1 and len(rows) < params.per_page:
        total = len(rows)
    else:
        total = session.scalar(count_query(stmt if count is None else count)) or 0
    items = [transform(row) for row in rows] if transform else list(rows)
    return page_of(items, total, params)


def _entity(stmt: Select[Any]) -> bool:
    described = stmt.column_descriptions
    return len(described) == 1 and described[0]["type"] is described[0]["entity"]


def count_query(stmt: Select[Any]) -> Select[int]:
    """How many rows `stmt` has in all, for a page's `total`."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def page_fields(items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    """A page's fields, in Page's order: a list that renders its JSON itself (the public list)
    sends exactly what Page would."""
    total_pages = math.ceil(total / params.per_page) if total else 0
    return {
        "data": items,
        "total": total,
        "page": params.page,
        "per_page": params.per_page,
        "total_pages": total_pages,
        "has_next": params.page < total_pages,
        "has_prev": params.page > 1,
    }


def page_of(items: list[Any], total: int, params: PageParams) -> Page[Any]:
    return Page[Any](**page_fields(items, total, params))
