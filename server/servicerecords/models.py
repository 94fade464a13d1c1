"""Service records and the readings taken during them."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common.models import IdMixin, TimestampMixin, fk
from server.common.types import UTCDateTime, enum_column
from server.extensions import db
from server.identity.scoping import CARE_SCOPE, inherit_scope
from server.packages.models import PackageItem
from server.teams.models import Staff


class ServiceType(str, enum.Enum):
    CLINIC = "clinic"          # 门诊
    HOME_VISIT = "home_visit"  # 上门
    PHONE = "phone"            # 电话
    ONLINE = "online"          # 线上


class Confirmation(str, enum.Enum):
    PENDING = "pending"      # 待确认
    CONFIRMED = "confirmed"  # 已确认
    DISPUTED = "disputed"    # 有异议


class ServiceRecord(IdMixin, TimestampMixin, db.Model):
    """A delivered package item (履约记录), which the resident confirms or disputes.

    Region, institution and team are copied from the contract so the assessment groups
    millions of rows without joins; `external_id` makes imports idempotent per institution.
    """

    __tablename__ = "service_record"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "external_id"),
        sa.UniqueConstraint("contract_id", "package_item_id", "served_at"),
        sa.Index("ix_service_record_institution_served", "institution_id", "served_on"),
    )
    __scope__ = CARE_SCOPE

    contract_id: Mapped[int] = fk("contract.id")
    package_item_id: Mapped[int] = fk("package_item.id")
    resident_id: Mapped[int] = fk("resident.id")
    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int] = fk("institution.id", index=False)
    team_id: Mapped[int] = fk("team.id")
    staff_id: Mapped[int] = fk("staff.id")
    service_type: Mapped[ServiceType] = mapped_column(enum_column(ServiceType))
    served_at: Mapped[datetime] = mapped_column(UTCDateTime)
    served_on: Mapped[date] = mapped_column(sa.Date)  # local (Asia/Shanghai) date of served_at
    place: Mapped[str] = mapped_column(sa.String(255), default="")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[str] = mapped_column(sa.String(16), default="platform")  # platform / import
    external_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    confirmation: Mapped[Confirmation] = mapped_column(enum_column(Confirmation), default=Confirmation.PENDING)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dispute_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    item: Mapped[PackageItem] = relationship(viewonly=True)
    staff: Mapped[Staff] = relationship(viewonly=True)
    reading: Mapped[Reading | None] = relationship(viewonly=True, uselist=False)


class Reading(IdMixin, db.Model):
    """Measurements taken at a service (体征): blood pressure, glucose, HbA1c, weight, pulse."""

    __tablename__ = "reading"
    __table_args__ = (
        sa.CheckConstraint("systolic_mmhg IS NULL OR diastolic_mmhg IS NULL OR systolic_mmhg > diastolic_mmhg",
                           name="systolic_above_diastolic"),
        sa.UniqueConstraint("service_record_id"),  # one set of readings per service
        sa.Index("ix_reading_resident_measured", "resident_id", "measured_at"),
    )

    service_record_id: Mapped[int] = fk("service_record.id", index=False)
    resident_id: Mapped[int] = fk("resident.id", index=False)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    systolic_mmhg: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    diastolic_mmhg: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    fasting_glucose_mmol: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1), nullable=True)
    hba1c_percent: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1), nullable=True)
    weight_kg: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 1), nullable=True)
    heart_rate_bpm: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)


Reading.__scope__ = inherit_scope(Reading.service_record_id, ServiceRecord)


class FollowUpCall(IdMixin, TimestampMixin, db.Model):
    """A phone follow-up (电话回访) of a served resident by a team member, with its outcome."""

    __tablename__ = "follow_up_call"
    __scope__ = CARE_SCOPE

    contract_id: Mapped[int] = fk("contract.id")
    resident_id: Mapped[int] = fk("resident.id", index=False)
    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int] = fk("institution.id", index=False)
    team_id: Mapped[int] = fk("team.id", index=False)
    staff_id: Mapped[int] = fk("staff.id", index=False)
    service_record_id: Mapped[int | None] = fk("service_record.id", nullable=True, index=False)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # reached / no_answer / refused / wrong_number
    notes: Mapped[str] = mapped_column(sa.Text, default="")
