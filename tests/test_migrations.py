"""The migrations build the schema from empty, agree with the models, and walk back down.

Runs on whichever database the suite runs on (SQLite or PostgreSQL), each time in a
database of its own, through the same `jiayi db` commands production uses.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url

from server.extensions import db

JIAYI = [sys.executable, "-c", "from server.cli import main; main()"]


@pytest.fixture
def empty_database(settings, tmp_path):
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    name = f"{url.database}_migrations"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _jiayi(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([*JIAYI, "db", *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.no_db
def test_migrations_build_from_empty_match_the_models_and_reverse(empty_database):
    upgraded = _jiayi(empty_database, "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    checked = _jiayi(empty_database, "check")
    assert checked.returncode == 0, checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr
    down = _jiayi(empty_database, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    engine = sa.create_engine(empty_database)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert _jiayi(empty_database, "upgrade").returncode == 0


def test_the_suite_database_built_by_migrations_has_no_drift(session):
    context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
    assert compare_metadata(context, db.metadata) == []
