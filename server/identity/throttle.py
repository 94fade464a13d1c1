"""Sign-in throttling (登录限流): failures counted per account and per address, in the database.

Every worker reads and writes the same rows, so spreading guesses over processes gains
nothing. A key is a keyed hash (`pii.blind_index`) of the username or of the address: the
table names nobody, and whoever investigates finds the address in the audit trail.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from server.common import pii
from server.common.timeutil import local_today, utcnow
from server.common.types import UTCDateTime
from server.common.uow import transaction
from server.errors import NotFound, TooManyRequests
from server.extensions import db
from server.identity.models import SignInThrottle
from server.regions.models import LocalRules, Region
from server.regions.rules import rules_in_force

ACCOUNT = "account"
ADDRESS = "address"
Key = tuple[str, str]  # (kind, keyed hash)


@dataclass(frozen=True)
class SignInAttempt:
    """Where a sign-in comes from, and the deployment's region (whose rules hold for unknown accounts)."""

    ip: str | None
    user_agent: str | None
    region_code: str


def account_key(username: str) -> Key:
    return ACCOUNT, pii.blind_index(f"{ACCOUNT}:{username}")


def address_key(ip: str | None) -> Key:
    return ADDRESS, pii.blind_index(f"{ADDRESS}:{ip or '-'}")


def refuse_if_locked(*keys: Key) -> None:
    """Answer 429 while any key is locked: before a password is verified or WeChat is asked."""
    now = utcnow()
    until = db.session.scalar(sa.select(sa.func.max(SignInThrottle.locked_until)).where(
        sa.or_(*(sa.and_(SignInThrottle.kind == kind, SignInThrottle.key == key) for kind, key in keys)),
        SignInThrottle.locked_until > now))
    if until is not None:
        raise TooManyRequests(math.ceil((until - now).total_seconds()), "登录失败次数过多，请稍后再试",
                              code="TOO_MANY_LOGIN_ATTEMPTS")


def counting_region(account_region_id: int | None, region_code: str) -> int:
    """Whose rules a failure counts under: the account's region where known, else the deployment's."""
    if account_region_id is not None:
        return account_region_id
    region_id = db.session.scalar(sa.select(Region.id).where(Region.admdvs_code == region_code))
    if region_id is None:
        raise NotFound("本统筹地区尚未开通", code="REGION_NOT_CONFIGURED")
    return region_id


def record_failure(region_id: int, *keys: Key) -> None:
    """Count one failure against each key; the rules' number of them within their window locks it.

    One INSERT … ON CONFLICT DO UPDATE per key, so concurrent workers never lose a count. A
    window that has passed, or a lock that has ended, starts the count afresh.
    """
    rules = rules_in_force(region_id, local_today())
    now = utcnow()
    lock = now + timedelta(seconds=rules.login_lockout_seconds)
    row = SignInThrottle.__table__.c
    fresh = sa.or_(row.window_started_at <= _at(now - timedelta(seconds=rules.login_failure_window_seconds)),
                   sa.and_(row.locked_until.is_not(None), row.locked_until <= _at(now)))
    failures = sa.case((fresh, 1), else_=row.failures + 1)
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for kind, key in keys:
        db.session.execute(
            insert(SignInThrottle.__table__)
            .values(kind=kind, key=key, failures=1, window_started_at=now,
                    locked_until=lock if rules.login_max_failures <= 1 else None)
            .on_conflict_do_update(index_elements=[row.kind, row.key], set_={
                "failures": failures,
                "window_started_at": sa.case((fresh, _at(now)), else_=row.window_started_at),
                "locked_until": sa.case((failures >= rules.login_max_failures, _at(lock)), else_=sa.null()),
            }))


def reset(key: Key) -> None:
    """Forget a key's failures (an account after a successful sign-in)."""
    kind, value = key
    db.session.execute(sa.delete(SignInThrottle).where(SignInThrottle.kind == kind, SignInThrottle.key == value))


def forget_finished(now: datetime) -> int:
    """Delete counters that can no longer lock anyone: lock over and window past the longest any
    region's rules set. Without this, failures from ever new addresses would grow the table forever."""
    longest = db.session.scalar(sa.select(sa.func.max(LocalRules.login_failure_window_seconds))) or 0
    with transaction():
        return db.session.execute(sa.delete(SignInThrottle).where(
            sa.or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= now),
            SignInThrottle.window_started_at <= now - timedelta(seconds=longest))).rowcount


def _at(moment: datetime) -> sa.BindParameter:
    return sa.literal(moment, UTCDateTime())
