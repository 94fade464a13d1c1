"""Idempotency keys: a repeated request with the same key gets the first answer back.

The key is claimed in its own transaction before the use case runs, so of two concurrent
requests with one key exactly one runs; the other gets the stored answer, or 409 while
the first is still running.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin
from server.common.timeutil import utcnow
from server.common.types import JSONType, UTCDateTime
from server.common.uow import transaction
from server.errors import Conflict, ValidationFailed
from server.extensions import db
from server.identity.roles import Actor

PENDING = 0  # status_code of a claimed key whose request is still running


class IdempotencyRecord(IdMixin, db.Model):
    """The first answer to a request made with an `Idempotency-Key` (幂等记录)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("actor_role", "actor_account_id", "key"),)

    actor_role: Mapped[str] = mapped_column(sa.String(32))
    actor_account_id: Mapped[int] = mapped_column(sa.BigInteger)
    key: Mapped[str] = mapped_column(sa.String(128))
    endpoint: Mapped[str] = mapped_column(sa.String(128))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.Integer)
    body: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict


def request_hash(endpoint: str, payload: object) -> str:
    return hashlib.sha256(json.dumps([endpoint, payload], sort_keys=True, default=str).encode()).hexdigest()


def claim(actor: Actor, key: str, endpoint: str, digest: str) -> Replay | None:
    """Claim `key` for this request; returns the stored answer if it was already answered."""
    if not 8 <= len(key) <= 128:
        raise ValidationFailed("Idempotency-Key 长度应为8到128个字符", code="IDEMPOTENCY_KEY_INVALID")
    try:
        with transaction():
            db.session.add(IdempotencyRecord(actor_role=actor.role.value, actor_account_id=actor.account_id, key=key,
                                             endpoint=endpoint, request_hash=digest, status_code=PENDING, body={}))
        return None
    except IntegrityError:
        pass
    record = db.session.scalars(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.actor_role == actor.role.value, IdempotencyRecord.actor_account_id == actor.account_id,
        IdempotencyRecord.key == key)).one()
    if record.request_hash != digest:
        raise Conflict("同一 Idempotency-Key 不能用于不同的请求", code="IDEMPOTENCY_KEY_REUSED")
    if record.status_code == PENDING:
        raise Conflict("相同请求正在处理中，请稍后重试", code="REQUEST_IN_PROGRESS")
    return Replay(record.status_code, record.body)


def complete(actor: Actor, key: str, status_code: int, body: dict) -> None:
    """Store the answer; an error answer releases the key so the caller may correct and retry."""
    with transaction():
        stmt = sa.select(IdempotencyRecord).where(
            IdempotencyRecord.actor_role == actor.role.value, IdempotencyRecord.actor_account_id == actor.account_id,
            IdempotencyRecord.key == key)
        record = db.session.scalars(stmt).one()
        if status_code >= 400:
            db.session.delete(record)
        else:
            record.status_code, record.body = status_code, body
