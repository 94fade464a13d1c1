"""Long-term prescriptions, their items and dispensings."""
from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common.sqlfuncs import add_days
from server.common.models import IdMixin, TimestampMixin, fk
from server.common.types import UTCDateTime, enum_column
from server.extensions import db
from server.identity.scoping import CARE_SCOPE, inherit_scope


class PrescriptionStatus(str, enum.Enum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# The database's own guards of two rules the services check first (`server.prescriptions.guards`
# turns a refusal into the rule's answer). A dispensing is never voided, so its guard is total.
ACTIVE_PER_CONTRACT_INDEX = "uq_prescription_active_per_contract"
ITEM_PER_DAY_INDEX = "uq_dispensing_item_per_day"
_ACTIVE_SQL = sa.text(f"status = '{PrescriptionStatus.ACTIVE.value}'")


class Prescription(IdMixin, TimestampMixin, db.Model):
    """A long-term prescription (长期处方); `weeks` is checked against the rules in force.

    A prescription continued from a higher-level hospital (接续上级医疗机构处方) records its
    source institution and prescription number.
    """

    __tablename__ = "prescription"
    __table_args__ = (
        sa.CheckConstraint("weeks > 0", name="weeks_positive"),
        sa.UniqueConstraint("institution_id", "external_id"),
        # One active prescription per contract: a new one completes the current one.
        sa.Index(ACTIVE_PER_CONTRACT_INDEX, "contract_id", unique=True,
                 sqlite_where=_ACTIVE_SQL, postgresql_where=_ACTIVE_SQL),
    )
    __scope__ = CARE_SCOPE

    contract_id: Mapped[int] = fk("contract.id")
    resident_id: Mapped[int] = fk("resident.id")
    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int] = fk("institution.id")
    team_id: Mapped[int] = fk("team.id", index=False)
    prescriber_staff_id: Mapped[int] = fk("staff.id", index=False)
    issued_on: Mapped[date] = mapped_column(sa.Date)
    weeks: Mapped[int] = mapped_column(sa.Integer)
    stable_patient: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stability_assessment: Mapped[str] = mapped_column(sa.Text, default="")
    patient_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[PrescriptionStatus] = mapped_column(enum_column(PrescriptionStatus))
    source_institution_name: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    source_prescription_no: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)

    items: Mapped[list[PrescriptionItem]] = relationship(order_by="PrescriptionItem.id", viewonly=True)
    dispensings: Mapped[list[Dispensing]] = relationship(order_by="Dispensing.dispensed_on", viewonly=True)

    @property
    def next_refill_on(self) -> date | None:
        """The day the last supply runs out: each filling of a long-term script supplies `weeks`."""
        if self.status is not PrescriptionStatus.ACTIVE:
            return None
        last = max((d.dispensed_on for d in self.dispensings), default=self.issued_on)
        return last + timedelta(weeks=self.weeks)


class PrescriptionItem(IdMixin, db.Model):
    """One drug of a prescription (处方药品)."""

    __tablename__ = "prescription_item"

    prescription_id: Mapped[int] = fk("prescription.id")
    drug_code: Mapped[str] = mapped_column(sa.String(64))  # 国家医保药品编码
    drug_name: Mapped[str] = mapped_column(sa.String(128))
    drug_class: Mapped[str] = mapped_column(sa.String(64), default="")
    specification: Mapped[str] = mapped_column(sa.String(128), default="")
    dosage: Mapped[str] = mapped_column(sa.String(64), default="")
    frequency: Mapped[str] = mapped_column(sa.String(32), default="")
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    unit: Mapped[str] = mapped_column(sa.String(16), default="")


class Dispensing(IdMixin, TimestampMixin, db.Model):
    """A filling of a prescription item (取药记录)."""

    __tablename__ = "dispensing"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "external_id"),
        # One filling of a drug per day.
        sa.Index(ITEM_PER_DAY_INDEX, "prescription_item_id", "dispensed_on", unique=True),
    )

    prescription_id: Mapped[int] = fk("prescription.id")
    prescription_item_id: Mapped[int] = fk("prescription_item.id", index=False)  # ITEM_PER_DAY_INDEX leads with it
    institution_id: Mapped[int] = fk("institution.id", index=False)
    dispensed_on: Mapped[date] = mapped_column(sa.Date)
    quantity: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    staff_id: Mapped[int | None] = fk("staff.id", nullable=True, index=False)
    external_id: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


PrescriptionItem.__scope__ = inherit_scope(PrescriptionItem.prescription_id, Prescription)
Dispensing.__scope__ = inherit_scope(Dispensing.prescription_id, Prescription)


def refill_due_on() -> sa.ColumnElement:
    """SQL twin of `Prescription.next_refill_on` for an active prescription: last filling (or issue) plus weeks."""
    last_filled = (sa.select(sa.func.max(Dispensing.dispensed_on)).where(Dispensing.prescription_id == Prescription.id)
                   .correlate_except(Dispensing).scalar_subquery())
    return add_days(sa.func.coalesce(last_filled, Prescription.issued_on), Prescription.weeks * 7)
