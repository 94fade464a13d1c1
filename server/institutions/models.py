"""Institutions, county medical communities, and agreements with their history."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk
from server.common.timeutil import utcnow
from server.common.types import UTCDateTime, enum_column
from server.extensions import db
from server.identity.roles import Level


class MedicalCommunity(IdMixin, TimestampMixin, db.Model):
    """A tight county medical community (紧密型县域医共体), where the service starts first."""

    __tablename__ = "medical_community"
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id")
    name: Mapped[str] = mapped_column(sa.String(128))


def _assigned_institutions(ids):
    from server.assessment.models import AssessorAssignment  # assessment builds on institutions
    return Institution.id.in_(sa.select(AssessorAssignment.institution_id).where(AssessorAssignment.id.in_(ids)))


class Institution(IdMixin, TimestampMixin, db.Model):
    """A primary-care institution (基层医疗卫生机构): the unit that is assessed and paid."""

    __tablename__ = "institution"
    __scope__ = {Level.REGION: "region_id", Level.ASSIGNMENT: _assigned_institutions, Level.INSTITUTION: "id"}

    region_id: Mapped[int] = fk("region.id")
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # 定点医药机构编码
    name: Mapped[str] = mapped_column(sa.String(128))
    kind: Mapped[str] = mapped_column(sa.String(32))  # 乡镇卫生院 / 社区卫生服务中心 / 村卫生室
    medical_community_id: Mapped[int | None] = fk("medical_community.id", nullable=True)
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    latitude: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class AgreementStatus(str, enum.Enum):
    ACTIVE = "active"            # 有效
    SUSPENDED = "suspended"      # 暂停
    TERMINATED = "terminated"    # 解除
    NOT_RENEWED = "not_renewed"  # 不再续约


class Agreement(IdMixin, TimestampMixin, db.Model):
    """The service agreement (协议) between the bureau and an institution for a period."""

    __tablename__ = "agreement"
    __scope__ = {Level.REGION: "region_id", Level.INSTITUTION: "institution_id"}

    region_id: Mapped[int] = fk("region.id")
    institution_id: Mapped[int] = fk("institution.id")
    agreement_no: Mapped[str] = mapped_column(sa.String(64), unique=True)
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[AgreementStatus] = mapped_column(enum_column(AgreementStatus))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class AgreementEvent(IdMixin, db.Model):
    """One change of an agreement's status, with who made it and why."""

    __tablename__ = "agreement_event"
    __scope__ = {
        Level.REGION: lambda ids: AgreementEvent.agreement_id.in_(
            sa.select(Agreement.id).where(Agreement.region_id.in_(ids))),
        Level.INSTITUTION: lambda ids: AgreementEvent.agreement_id.in_(
            sa.select(Agreement.id).where(Agreement.institution_id.in_(ids))),
    }

    agreement_id: Mapped[int] = fk("agreement.id")
    from_status: Mapped[AgreementStatus | None] = mapped_column(
        enum_column(AgreementStatus, name="from_status"), nullable=True)
    to_status: Mapped[AgreementStatus] = mapped_column(enum_column(AgreementStatus, name="to_status"))
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
