"""Login identities: staff accounts with passwords, WeChat accounts for residents."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, PhoneMixin, TimestampMixin, fk
from server.common.types import EncryptedText, UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Role


class UserAccount(IdMixin, TimestampMixin, db.Model):
    """A staff login account (系统账号) for team members, managers, bureau staff and assessors.

    Which region, institution or staff member it belongs to decides its data scope.
    """

    __tablename__ = "user_account"
    __table_args__ = (
        sa.CheckConstraint(
            "role <> 'resident'", name="staff_role",
        ),
    )

    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int | None] = fk("institution.id", nullable=True)
    staff_id: Mapped[int | None] = fk("staff.id", nullable=True)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # The doctor side of the mini-program signs staff in by this WeChat identity once bound.
    wechat_openid: Mapped[str | None] = mapped_column(sa.String(64), nullable=True, unique=True)
    # Bumped on password change or forced logout: older tokens stop working.
    token_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WechatAccount(IdMixin, TimestampMixin, PhoneMixin, db.Model):
    """A resident's WeChat identity (微信账号) in our mini-program, keyed by openid."""

    __tablename__ = "wechat_account"
    __table_args__ = (sa.UniqueConstraint("appid", "openid"),)  # openids are per mini-program

    appid: Mapped[str] = mapped_column(sa.String(32))
    openid: Mapped[str] = mapped_column(sa.String(64))
    unionid: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    session_key: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    region_id: Mapped[int] = fk("region.id")
    token_version: Mapped[int] = mapped_column(sa.Integer, default=1)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInThrottle(IdMixin, db.Model):
    """A sign-in failure counter (登录失败计数) for one account or one address, shared by every worker.

    `key` is a keyed hash of the username or address, so the table names nobody. Failures
    count within a window; reaching the rules' limit locks the key until `locked_until`.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (sa.UniqueConstraint("kind", "key"),)

    kind: Mapped[str] = mapped_column(sa.String(16))  # "account" or "address"
    key: Mapped[str] = mapped_column(sa.String(64))
    failures: Mapped[int] = mapped_column(sa.Integer)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
