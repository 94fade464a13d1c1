"""Mixins shared by the domain models."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common import pii
from server.common.timeutil import utcnow
from server.common.types import EncryptedText, UTCDateTime


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


class PhoneMixin:
    """An encrypted phone number with the keyed hash that finds it; set it with `set_phone`."""

    phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, index=True)

    def set_phone(self, phone: str | None) -> None:
        self.phone = phone
        self.phone_hash = pii.blind_index(phone) if phone else None
