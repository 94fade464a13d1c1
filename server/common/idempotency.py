"""Idempotency keys: a repeated request with the same key gets the first answer back."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin
from server.common.timeutil import utcnow
from server.common.types import JSONType, UTCDateTime
from server.extensions import db


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
