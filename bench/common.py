"""Helpers the benchmarks share: a fresh PostgreSQL database, and adding one ORM row."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from server.extensions import db


def fresh_database(url: str) -> str:
    """Drop and create the benchmark's own database (as tests/live.py does for the live server's)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("this benchmark measures PostgreSQL: give a postgresql:// URL")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    return parsed.render_as_string(hide_password=False)


def add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj
