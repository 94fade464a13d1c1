"""State the integrations keep: the shared access token and the subscribe-message log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, fk
from server.common.timeutil import utcnow
from server.common.types import EncryptedText, JSONType, UTCDateTime
from server.extensions import db


class AccessToken(IdMixin, db.Model):
    """An outside service's access token (接口调用凭证), shared by every worker.

    WeChat allows few token fetches a day and invalidates older tokens on refresh, so one
    row per token name, refreshed under a row lock, serves all processes.
    """

    __tablename__ = "access_token"

    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token: Mapped[str] = mapped_column(EncryptedText)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageLog(IdMixin, db.Model):
    """A subscribe message (订阅消息) we sent or were refused, so refusals are respected."""

    __tablename__ = "message_log"
    __table_args__ = (sa.Index("ix_message_log_account_template", "wechat_account_id", "template_id"),)

    wechat_account_id: Mapped[int] = fk("wechat_account.id", index=False)
    template_id: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str] = mapped_column(sa.String(32))  # renewal_reminder / survey_invitation
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))  # sent / refused / failed
    errcode: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
