"""SQLite as an honest embedded database: real transactions, foreign keys, WAL.

Python's sqlite3 driver begins transactions lazily and breaks SAVEPOINT; letting
SQLAlchemy emit BEGIN itself fixes both (the documented pysqlite recipe). BEGIN IMMEDIATE
takes the write lock up front, so concurrent writers wait on the busy timeout instead of
failing when a read transaction turns into a write. SQLite also ignores foreign keys
unless asked.
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


def harden(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
