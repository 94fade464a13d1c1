"""Unique indexes as the database's guard of a rule a service checks first.

Two requests can both pass a service's check before either writes; the index then refuses
the second. `unique_guard` turns that refusal into the rule's own domain error, so the client
gets the rule's code rather than a generic conflict.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy.exc import IntegrityError

from server.errors import DomainError
from server.extensions import db


@contextmanager
def unique_guard(name: str, error: DomainError) -> Iterator[None]:
    """Raise `error` if a statement inside breaks the unique index (or constraint) `name`."""
    sqlite_message = _sqlite_message(name)
    try:
        yield
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)  # PostgreSQL (psycopg) names the index
        broken = diag.constraint_name == name if diag is not None else str(exc.orig) == sqlite_message
        if broken:
            raise error from exc
        raise


@cache
def _sqlite_message(name: str) -> str:
    """SQLite names only the columns: "UNIQUE constraint failed: table.a, table.b"."""
    for table in db.metadata.tables.values():
        for guard in (*table.indexes, *table.constraints):
            if guard.name == name:
                return "UNIQUE constraint failed: " + ", ".join(f"{table.name}.{c.name}" for c in guard.columns)
    raise LookupError(f"no unique index or constraint named {name!r}")
