"""Column types that carry the platform's storage rules into the database layer."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from server.common import pii

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite has no time zones, so naive values would silently change meaning; this type
    refuses naive datetimes on the way in and attaches UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is stored")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class EncryptedText(TypeDecorator):
    """Personal data encrypted at rest (AES-256-GCM) with the configured data key."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect):
        return None if value is None else pii.encrypt(value)

    def process_result_value(self, value: str | None, dialect):
        return None if value is None else pii.decrypt(value)


def enum_column(enum_cls: type[enum.Enum], *, name: str | None = None) -> sa.Enum:
    """A portable enum: VARCHAR plus a CHECK constraint, storing the values, not the names.

    `name` names the CHECK constraint; give one when a table has two columns of one enum.
    """
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        name=name or enum_cls.__name__.lower(),
        validate_strings=True,
    )
