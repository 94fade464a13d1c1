"""Settlements per institution and year, and the disbursements that pay them."""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import UTCDateTime, enum_column
from server.contracts.models import Contract
from server.extensions import db
from server.identity.roles import Level
from server.identity.scoping import inherit_scope


class Settlement(IdMixin, TimestampMixin, db.Model):
    """The capitation fee owed to one institution for one year (签约服务费结算).

    Heads exclude people who did not pay, whose payment details do not match, or who are
    not insured in the region; the undelivered items' value is deducted before the grade's
    payout ratio applies. Unique per region, institution and year, so recomputing is safe.
    """

    __tablename__ = "settlement"
    __table_args__ = (sa.UniqueConstraint("region_id", "institution_id", "year"),)
    __scope__ = {Level.REGION: "region_id", Level.INSTITUTION: "institution_id"}

    region_id: Mapped[int] = fk("region.id", index=False)
    institution_id: Mapped[int] = fk("institution.id")
    year: Mapped[int] = mapped_column(sa.Integer)
    run_id: Mapped[int] = fk("assessment_run.id", index=False)
    signed_heads: Mapped[int] = mapped_column(sa.Integer)
    eligible_heads: Mapped[int] = mapped_column(sa.Integer)
    gross_fen = money()
    undelivered_deduction_fen = money()
    payout_ratio: Mapped[Decimal] = mapped_column(sa.Numeric(6, 4))
    payable_fen = money()
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")  # draft / approved / paid
    approved_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Disbursement(IdMixin, TimestampMixin, db.Model):
    """One payment (拨付) against a settlement; arrears may be paid in instalments over years."""

    __tablename__ = "disbursement"
    __table_args__ = (
        sa.UniqueConstraint("settlement_id", "instalment_no"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    settlement_id: Mapped[int] = fk("settlement.id")
    instalment_no: Mapped[int] = mapped_column(sa.Integer)
    amount_fen = money()
    paid_on: Mapped[date] = mapped_column(sa.Date)
    reference: Mapped[str] = mapped_column(sa.String(64), default="")


Disbursement.__scope__ = inherit_scope(Disbursement.settlement_id, Settlement)


class CheckReason(str, enum.Enum):
    MOVED_OUT = "moved_out"                  # 转出本统筹地区
    INSURANCE_STOPPED = "insurance_stopped"  # 暂停/终止参保


class SettlementCheck(IdMixin, TimestampMixin, db.Model):
    """A contract to verify before settlement pays for it (结算核验标记): its holder left the region or stopped insurance.

    One row per contract and reason. Resuming insurance clears an open stop (`cleared_on`);
    the row stays, so settlement can see the gap.
    """

    __tablename__ = "settlement_check"
    __table_args__ = (
        sa.UniqueConstraint("contract_id", "reason"),
        sa.Index("ix_settlement_check_region_open", "region_id", "cleared_on"),
    )

    region_id: Mapped[int] = fk("region.id", index=False)
    contract_id: Mapped[int] = fk("contract.id", index=False)
    reason: Mapped[CheckReason] = mapped_column(enum_column(CheckReason))
    since: Mapped[date] = mapped_column(sa.Date)
    batch_id: Mapped[int] = fk("import_batch.id")
    cleared_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)


SettlementCheck.__scope__ = inherit_scope(SettlementCheck.contract_id, Contract)
