"""A second, real Jiayi server for tests that cross real HTTP both ways.

The WeChat Pay sandbox posts notifications to the platform, so those tests need the
platform listening on a port with ordinary per-request sessions and committed data. It
runs on its own migrated database, emptied after every test.
"""
from __future__ import annotations

import dataclasses
import socket
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from server import create_app
from server.config import Settings
from server.extensions import db
from server.sandbox.miniprogram import MiniProgram
from server.surveys.models import Survey
from server.web.headers import RequestHandler

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
        self._server = make_server("127.0.0.1", port, self.app, threaded=True, request_handler=RequestHandler)
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


@dataclass
class LiveWorld:
    """A region on the live server: one team, one package, patients known from health records."""

    server: LiveServer
    sandbox_url: str
    team_id: int
    package_version_id: int
    institution_id: int
    people: list[tuple[str, str]]  # (name, ID number), not yet bound to any WeChat account

    def phone(self) -> MiniProgram:
        return MiniProgram(self.server.url, self.sandbox_url)


def seed_live_world(server: LiveServer, sandbox_url: str, *, people: int = 30, capacity: int = 500) -> LiveWorld:
    from tests.factories import make_institution, make_package, make_region, make_resident, make_team
    with server.app.app_context():
        region = make_region("350600", "漳州市")
        institution = make_institution(region, "芗城区石亭镇卫生院")
        team, _ = make_team(institution, "石亭家医一队")
        team.capacity = capacity
        version, _ = make_package(region)
        patients = [make_resident(region, f"居民{n:02d}") for n in range(people)]
        db.session.add(Survey(region_id=region.id, name="家庭医生签约服务满意度调查"))
        world = LiveWorld(server, sandbox_url, team.id, version.id, institution.id,
                          [(p.name, p.id_number) for p in patients])
        db.session.commit()
        db.session.remove()
    return world
