"""The unit of work: one `transaction()` per use case, never nested, and never committed by anyone else."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.common.timeutil import utcnow
from server.common.uow import NestedTransaction, transaction
from server.extensions import db
from server.integrations.models import AccessToken
from tests.integrations.conftest import wechat_client


def _row(name: str) -> AccessToken:
    return AccessToken(name=name, token="t", expires_at=utcnow() + timedelta(hours=1), refreshed_at=utcnow())


def _names() -> set[str]:
    return set(db.session.scalars(sa.select(AccessToken.name)))


def test_a_unit_of_work_commits_when_it_ends_and_rolls_back_on_an_error(session):
    with transaction():
        session.add(_row("kept"))
    with pytest.raises(LookupError), transaction():
        session.add(_row("dropped"))
        raise LookupError
    assert _names() == {"kept"}


def test_a_transaction_inside_another_is_refused_and_the_outer_work_rolled_back(session):
    with pytest.raises(NestedTransaction), transaction():
        session.add(_row("outer"))
        session.flush()
        with transaction():
            session.add(_row("inner"))
    assert _names() == set()
    with transaction():  # the refusal leaves no unit of work open behind it
        session.add(_row("next"))
    assert _names() == {"next"}


@pytest.mark.no_db
def test_refreshing_the_wechat_token_commits_nothing_of_the_callers(app, sandbox):
    """Real transactions (no test transaction): the token is committed on the client's own
    session, and the caller's pending change is still only the caller's to commit or drop."""
    settings = app.config["JIAYI_SETTINGS"]
    client = wechat_client(sandbox.base_url, settings)
    try:
        with app.app_context():
            db.session.add(_row("the caller's pending change"))
            client.access_token(force_refresh=True)
            db.session.rollback()
        with app.app_context(), db.engine.connect() as connection:
            stored = set(connection.scalars(sa.select(AccessToken.name)))
        assert stored == {f"wechat:{settings.wechat_appid}"}
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(sa.delete(AccessToken))
