"""Test harness: one migrated database per run, one rolled-back transaction per test.

`JIAYI_TEST_DATABASE_URL` picks the database (default: a fresh SQLite file); CI runs the
suite once on SQLite and once on PostgreSQL. The schema is built by the migrations, not by
`create_all`, so every run also proves the migrations.

Every test runs on a pinned clock (`tests/clock.py`) that the app, the sandbox and the live
server all read, so "today" is a day the run chooses, not the calendar's.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from server import create_app
from server.common import timeutil
from server.config import load_settings, _normalise_db_url
from server.extensions import SESSION_OPTIONS, db
from server.sandbox import keys
from server.sandbox.cli import config_from_settings
from server.sandbox.config import SandboxConfig
from server.sandbox.server import SandboxServer
from server.residents.models import FamilyLink, ProxyConfirmation, ProxyStatus, Relation
from tests import factories
from tests.clock import CALENDAR_EDGES, PinnedClock, day_of_the_run
from tests.helpers import SANDBOX_TIME_SCALE
from tests.live import LiveServer, free_port, live_database_url, live_settings, seed_live_world


def pytest_configure(config) -> None:
    # Before collection and the session's fixtures, which may read the time too.
    timeutil.use_clock(PinnedClock(day_of_the_run()))


def pytest_generate_tests(metafunc) -> None:
    """A test marked `calendar_edges` runs on the run's day and again on each of `CALENDAR_EDGES`."""
    if metafunc.definition.get_closest_marker("calendar_edges"):
        metafunc.parametrize("today", (None, *CALENDAR_EDGES), indirect=True,
                             ids=lambda day: day.isoformat() if day else "run-day")


@pytest.fixture(autouse=True)
def today(request) -> Iterator[date]:
    """Each test starts at the same moment of its day: the run's, or the calendar edge it runs on."""
    day = getattr(request, "param", None) or day_of_the_run()
    previous = timeutil.use_clock(PinnedClock(day))
    try:
        yield day
    finally:
        timeutil.use_clock(previous)


def _test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("JIAYI_TEST_DATABASE_URL")
    if url:
        return _normalise_db_url(url)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


def reset_database(url: str) -> None:
    """Leave an empty database for the migrations to build on."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox-keys")


@pytest.fixture(scope="session")
def sandbox_config(tmp_path_factory, keys_dir) -> SandboxConfig:
    base = load_settings(str(tmp_path_factory.mktemp("sandbox-instance")))
    return dataclasses.replace(config_from_settings(base, keys_dir), time_scale=SANDBOX_TIME_SCALE)


@pytest.fixture(scope="session")
def sandbox(sandbox_config):
    """WeChat, WeChat Pay v3 and the insurance platform on a loopback port, for the whole run."""
    with SandboxServer(sandbox_config) as server:
        yield server


@pytest.fixture(scope="session")
def live_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, sandbox, keys_dir, live_port):
    url = _test_database_url(tmp_path_factory)
    base = load_settings(str(tmp_path_factory.mktemp("instance")))
    dev = keys.ensure(keys_dir)
    return dataclasses.replace(
        base, env="testing", database_url=url, wechat_api_base=sandbox.base_url,
        wechatpay_api_base=sandbox.base_url, insurance_api_base=sandbox.base_url,
        wechatpay_private_key_path=str(dev.merchant_private_key), wechatpay_cert_serial=dev.merchant_serial(),
        wechatpay_public_key_path=str(dev.platform_public_key), wechatpay_public_key_id=dev.platform_public_key_id,
        wechatpay_notify_url=f"http://127.0.0.1:{live_port}/api/mp/v1/payments/notify")


@pytest.fixture(scope="session")
def app(settings):
    reset_database(settings.database_url)
    app = create_app(settings)
    app.config["TESTING"] = True
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _transaction(request, app):
    """Every test runs inside a transaction that is rolled back, so tests never see each other.

    Use-case commits become savepoint releases on the one outer transaction. No app
    context stays pushed during the test, so each request gets its own, as in production.
    """
    if "no_db" in request.keywords or "live" in request.keywords:
        yield None
        return
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    original = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint", **SESSION_OPTIONS),
        scopefunc=lambda: 0)
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(_transaction):
    return _transaction


@pytest.fixture
def world(app, session):
    return factories.build_world(app)


@pytest.fixture(scope="session")
def live_server(settings, tmp_path_factory, live_port):
    """The platform served on `live_port` (where the sandbox sends notifications), on its own database."""
    url = live_database_url(settings.database_url, tmp_path_factory.mktemp("live"))
    server = LiveServer(live_settings(settings, url, live_port), live_port).start()
    yield server
    server.stop()


@pytest.fixture
def live(live_server, sandbox):
    """A freshly seeded live world; everything it and the test wrote is deleted afterwards."""
    world = seed_live_world(live_server, sandbox.base_url)
    yield world
    live_server.empty()


@pytest.fixture
def newcomer(world):
    """R6, a hypertension patient without a contract, whom account W1 acts for (a parent, confirmed)."""
    resident = factories.make_resident(world.regions["A"], "林淑珍", born=date(1950, 3, 8))
    consented = world.contracts["R1"].consent_at
    factories.add(FamilyLink(wechat_account_id=world.accounts["resident"].id, resident_id=resident.id,
                             relation=Relation.PARENT, status=ProxyStatus.ACTIVE,
                             confirmed_via=ProxyConfirmation.IN_PERSON, confirmed_at=consented,
                             consent_at=consented, consent_version="2026.1"))
    db.session.commit()
    db.session.expunge(resident)
    return resident
