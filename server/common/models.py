"""Mixins shared by the domain models."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.timeutil import utcnow
from server.common.types import UTCDateTime


class IdMixin:
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def fk(target: str, *, nullable: bool = False, index: bool = True, ondelete: str | None = None):
    """A foreign-key column of the same integer type as every primary key."""
    return mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=index,
    )


def money(*, nullable: bool = False, default: int | None = None):
    """Money is integer fen (分); yuan appear only at display."""
    return mapped_column(sa.BigInteger, nullable=nullable, default=default)
