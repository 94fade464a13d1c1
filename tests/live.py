"""A second, real Jiayi server for tests that cross real HTTP both ways.

The WeChat Pay sandbox posts notifications to the platform, so those tests need the
platform listening on a port with ordinary per-request sessions and committed data. It
runs on its own migrated database, emptied after every test.
"""
from __future__ import annotations

import dataclasses
import socket
import threading

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from server import create_app
from server.config import Settings
from server.extensions import db

KEEP = {"alembic_version", "disease"}  # reference data the migrations put there


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_database_url(test_url: str, tmp_dir) -> str:
    url = make_url(test_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_dir / 'live.sqlite'}"
    name = f"{url.database}_live"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


class LiveServer:
    def __init__(self, settings: Settings, port: int) -> None:
        self.app: Flask = create_app(settings)
        with self.app.app_context():
            upgrade()
        self.url = f"http://127.0.0.1:{port}"
        self._server = make_server("127.0.0.1", port, self.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def empty(self) -> None:
        """Delete every row but reference data, children first."""
        with self.app.app_context():
            tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP]
            with db.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY"))
                else:
                    for table in tables:
                        conn.execute(table.delete())
            db.session.remove()


def live_settings(settings: Settings, database_url: str, port: int) -> Settings:
    return dataclasses.replace(settings, database_url=database_url,
                               wechatpay_notify_url=f"http://127.0.0.1:{port}/api/mp/v1/payments/notify")
