"""Inpatient and outpatient claims, used for hospitalisation and cost indicators."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import JSONType, UTCDateTime
from server.extensions import db
from server.identity.roles import Level


class Claim(IdMixin, TimestampMixin, db.Model):
    """One settlement (结算记录) of a resident's care, as imported by its `setl_id`.

    `medins_code` is where care happened, which may be a hospital outside the region's
    primary-care institutions; residents are matched by ID-number hash on import.
    """

    __tablename__ = "claim"
    __table_args__ = (
        sa.CheckConstraint("fund_paid_fen + personal_paid_fen = total_cost_fen", name="parts_sum"),
        sa.Index("ix_claim_resident_admitted", "resident_id", "admitted_on"),
    )
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id", index=False)
    resident_id: Mapped[int] = fk("resident.id", index=False)
    setl_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    claim_type: Mapped[str] = mapped_column(sa.String(16))  # inpatient / outpatient
    medins_code: Mapped[str] = mapped_column(sa.String(32))
    medins_name: Mapped[str] = mapped_column(sa.String(128), default="")
    admitted_on: Mapped[date] = mapped_column(sa.Date)
    discharged_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    diagnosis_codes: Mapped[list] = mapped_column(JSONType, default=list)
    total_cost_fen = money()
    fund_paid_fen = money()
    personal_paid_fen = money()
