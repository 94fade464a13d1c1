"""Audit events, append-only."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin
from server.common.timeutil import utcnow
from server.common.types import JSONType, UTCDateTime
from server.extensions import db
from server.identity.roles import Level


class AuditEvent(IdMixin, db.Model):
    """One audited action (审计记录): a staff read or export of personal data, or a change.

    Written in the same transaction as the change it records, so neither exists alone.
    """

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity_type", "entity_id"),)
    __scope__ = {Level.REGION: "region_id"}

    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    region_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                                                  nullable=True, index=True)
    actor_role: Mapped[str] = mapped_column(sa.String(32))
    actor_account_id: Mapped[int] = mapped_column(sa.BigInteger)
    action: Mapped[str] = mapped_column(sa.String(64))  # e.g. resident.read, contract.cancel
    entity_type: Mapped[str] = mapped_column(sa.String(32))
    entity_id: Mapped[str] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
