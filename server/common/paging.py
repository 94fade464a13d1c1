"""Offset pagination for list use cases, counted and sliced in the database."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from server.extensions import db

T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_PAGE = 100_000  # keeps OFFSET far inside BIGINT; deeper lists are filtered, not paged


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


def paginate(stmt: sa.Select, request: PageRequest) -> Page[Any]:
    """Run `stmt` for one page of its first entity; the count runs on the same filtered statement."""
    rows = db.session.scalars(stmt.limit(request.per_page).offset((request.page - 1) * request.per_page)).all()
    return Page(items=list(rows), total=_count(stmt), page=request.page, per_page=request.per_page)


def paginate_rows(stmt: sa.Select, request: PageRequest) -> Page[sa.Row]:
    """Like `paginate`, for a statement selecting several columns or entities: the page holds whole rows."""
    rows = db.session.execute(stmt.limit(request.per_page).offset((request.page - 1) * request.per_page)).all()
    return Page(items=list(rows), total=_count(stmt), page=request.page, per_page=request.per_page)


def _count(stmt: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0


def where_given(stmt: sa.Select, *conditions: tuple[Any, Any]) -> sa.Select:
    """Add `column == value` for each optional filter the caller actually gave (not None)."""
    for column, value in conditions:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt
