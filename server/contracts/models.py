"""Contracts and their event history."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.common.models import IdMixin, TimestampMixin, fk, money
from server.common.timeutil import utcnow
from server.common.types import UTCDateTime, enum_column
from server.contracts.states import LIVE_STATES, ContractStatus, can_transition
from server.errors import RuleViolation
from server.extensions import db
from server.identity.scoping import CARE_SCOPE, inherit_scope
from server.residents.models import Resident
from server.teams.models import Staff, Team

_LIVE_SQL = sa.text("status IN (" + ", ".join(f"'{s.value}'" for s in LIVE_STATES) + ")")


class Contract(IdMixin, TimestampMixin, db.Model):
    """A family-doctor insurance contract (家庭医生医保签约协议) for one person and one period.

    It copies the fee split in force when it was signed, so a later change of the rules
    never rewrites what a person agreed to. Status changes only through the door in
    `server/contracts/transitions.py`, which calls `transition` and records who acted.
    """

    __tablename__ = "contract"
    __table_args__ = (
        # One live (pending or active) contract per person per contract year.
        sa.Index("uq_contract_live_per_period", "resident_id", "period_year", unique=True,
                 sqlite_where=_LIVE_SQL, postgresql_where=_LIVE_SQL),
        sa.CheckConstraint("period_start <= period_end", name="period_order"),
        sa.CheckConstraint(
            "personal_share_fen + public_health_share_fen + insurance_fund_share_fen = fee_per_head_fen",
            name="fee_split_sums",
        ),
        sa.Index("ix_contract_institution_period", "institution_id", "period_year", "status"),
    )
    __scope__ = CARE_SCOPE

    contract_no: Mapped[str] = mapped_column(sa.String(32), unique=True)
    region_id: Mapped[int] = fk("region.id")
    resident_id: Mapped[int] = fk("resident.id")
    institution_id: Mapped[int] = fk("institution.id")
    team_id: Mapped[int] = fk("team.id")
    doctor_staff_id: Mapped[int | None] = fk("staff.id", nullable=True)
    package_version_id: Mapped[int] = fk("package_version.id")
    rules_id: Mapped[int] = fk("local_rules.id")
    status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus))
    period_year: Mapped[int] = mapped_column(sa.Integer)
    period_start: Mapped[date] = mapped_column(sa.Date)
    period_end: Mapped[date] = mapped_column(sa.Date)
    channel: Mapped[str] = mapped_column(sa.String(16))  # mini_program / on_site / import
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_version: Mapped[str] = mapped_column(sa.String(32))
    signed_by_wechat_account_id: Mapped[int | None] = fk("wechat_account.id", nullable=True, index=False)
    signed_by_account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    fee_per_head_fen = money()
    personal_share_fen = money()
    public_health_share_fen = money()
    insurance_fund_share_fen = money()
    personal_share_payer: Mapped[str] = mapped_column(sa.String(32), default="self")
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str] = mapped_column(sa.String(500), default="")
    renewed_from_id: Mapped[int | None] = fk("contract.id", nullable=True)
    transferred_from_id: Mapped[int | None] = fk("contract.id", nullable=True)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    resident: Mapped[Resident] = relationship(viewonly=True)
    team: Mapped[Team] = relationship(viewonly=True)
    doctor: Mapped[Staff | None] = relationship(viewonly=True)
    events: Mapped[list[ContractEvent]] = relationship(order_by="ContractEvent.id", viewonly=True)

    __mapper_args__ = {"version_id_col": version}

    def transition(self, target: ContractStatus, *, reason: str = "", at: datetime | None = None) -> ContractEvent:
        """Move to `target` if the state table allows it; returns the event the door stores."""
        if not can_transition(self.status, target):
            raise RuleViolation(
                "签约状态不允许此操作",
                code="CONTRACT_STATE_INVALID",
                details={"from": self.status.value, "to": target.value},
            )
        at = at or utcnow()
        event = ContractEvent(contract_id=self.id, from_status=self.status, to_status=target, reason=reason, at=at)
        self.status = target
        if target is ContractStatus.ACTIVE:
            self.activated_at = at
        elif target is not ContractStatus.PENDING_PAYMENT:
            self.ended_at = at
            self.end_reason = reason
        return event


class ContractEvent(IdMixin, db.Model):
    """One state change of a contract (签约变更记录)."""

    __tablename__ = "contract_event"

    contract_id: Mapped[int] = fk("contract.id")
    from_status: Mapped[ContractStatus | None] = mapped_column(
        enum_column(ContractStatus, name="from_status"), nullable=True)
    to_status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus, name="to_status"))
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    account_id: Mapped[int | None] = fk("user_account.id", nullable=True, index=False)
    wechat_account_id: Mapped[int | None] = fk("wechat_account.id", nullable=True, index=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ContractEvent.__scope__ = inherit_scope(ContractEvent.contract_id, Contract)
