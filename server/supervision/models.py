"""Supervision alerts and the cases that act on them."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import JSONType, UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Level


class AlertKind(str, enum.Enum):
    FAKE_PATIENT = "fake_patient"          # 假病人
    FAKE_CONDITION = "fake_condition"      # 假病情
    FAKE_SERVICE = "fake_service"          # 假服务
    COST_SHIFTING = "cost_shifting"        # 转嫁费用
    DISPUTED_SERVICE = "disputed_service"  # 居民对履约记录有异议
    PAYMENT_MISMATCH = "payment_mismatch"  # 支付对账不符
    DUPLICATE_BENEFIT = "duplicate_benefit"  # 重复享受待遇


class SupervisionAlert(IdMixin, TimestampMixin, db.Model):
    """A finding that needs a human look (监管预警), pointing at the record behind it."""

    __tablename__ = "supervision_alert"
    __table_args__ = (sa.UniqueConstraint("kind", "subject_type", "subject_id"),)
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int | None] = fk("institution.id", nullable=True)
    kind: Mapped[AlertKind] = mapped_column(enum_column(AlertKind))
    subject_type: Mapped[str] = mapped_column(sa.String(32))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open / dismissed / escalated
    case_id: Mapped[int | None] = fk("supervision_case.id", nullable=True)


class CaseAction(str, enum.Enum):
    NONE = "none"
    DEDUCTION = "deduction"      # 扣减
    SUSPENSION = "suspension"    # 暂停协议
    TERMINATION = "termination"  # 解除协议


class SupervisionCase(IdMixin, TimestampMixin, db.Model):
    """A supervision case (监管案件) against an institution, ending in an agreement action."""

    __tablename__ = "supervision_case"
    __scope__ = {Level.REGION: "region_id", Level.INSTITUTION: "institution_id"}

    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int] = fk("institution.id")
    title: Mapped[str] = mapped_column(sa.String(128))
    finding: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open / closed
    action: Mapped[CaseAction] = mapped_column(enum_column(CaseAction), default=CaseAction.NONE)
    deduction_fen = money(default=0)
    opened_by_account_id: Mapped[int] = fk("user_account.id", index=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
