"""Settled claims from the bureau's core system, used for hospitalisation and cost indicators."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.types import JSONType, UTCDateTime
from server.extensions import db
from server.identity.roles import Level


_REVERSAL = sa.text("reversal_of_setl_id IS NOT NULL")


class Claim(IdMixin, TimestampMixin, db.Model):
    """One settlement (结算信息) of a resident's care, as the national platform exports it by `setl_id`.

    `medins_code` is where care happened, which may be a hospital outside the region's
    primary-care institutions; residents are matched by ID-number hash on import. A reversal
    (结算撤销) is stored as its own row naming the settlement it cancels; the cancelled one
    then names its reversal, and only settlements that `stand` count anywhere.
    """

    __tablename__ = "claim"
    __table_args__ = (
        sa.CheckConstraint("fund_paid_fen + personal_paid_fen = total_cost_fen", name="parts_sum"),
        sa.Index("ix_claim_resident_admitted", "resident_id", "admitted_on"),
        sa.Index("ix_claim_reversal_of", "reversal_of_setl_id", sqlite_where=_REVERSAL, postgresql_where=_REVERSAL),
    )
    __scope__ = {Level.REGION: "region_id"}

    region_id: Mapped[int] = fk("region.id", index=False)
    resident_id: Mapped[int] = fk("resident.id", index=False)
    setl_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    mdtrt_id: Mapped[str] = mapped_column(sa.String(32), default="")  # 就诊ID
    med_type: Mapped[str] = mapped_column(sa.String(6), default="")  # 医疗类别: 11 门诊, 14 门诊慢特病, 21 住院, …
    claim_type: Mapped[str] = mapped_column(sa.String(16))  # inpatient / outpatient, from med_type
    medins_code: Mapped[str] = mapped_column(sa.String(32))
    medins_name: Mapped[str] = mapped_column(sa.String(128), default="")
    admitted_on: Mapped[date] = mapped_column(sa.Date)
    discharged_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    diagnosis_codes: Mapped[list] = mapped_column(JSONType, default=list)
    total_cost_fen = money()     # medfee_sumamt 医疗费总额
    fund_paid_fen = money()      # fund_pay_sumamt 基金支付总额
    personal_paid_fen = money()  # psn_part_amt 个人负担总金额
    account_paid_fen = money(default=0)   # acct_pay 个人账户支出
    cash_paid_fen = money(default=0)      # psn_cash_pay 个人现金支出
    self_paid_fen = money(default=0)      # fulamt_ownpay_amt 全自费金额
    reversal_of_setl_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    reversed_by_setl_id: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    # The batch that brought it; no foreign key, as on `indicator_entry`: a load writes a million
    # rows from one batch row it has just created, and the row-by-row check cost a fifth of it.
    import_batch_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)

    @classmethod
    def stands(cls) -> sa.ColumnElement[bool]:
        """Neither a reversal nor reversed: what totals and indicators count."""
        return sa.and_(cls.reversal_of_setl_id.is_(None), cls.reversed_by_setl_id.is_(None))
