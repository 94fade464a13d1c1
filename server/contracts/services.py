"""Use cases for reading contracts and for ending them by decision of an institution or the bureau."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import utcnow
from server.common.types import UTCDateTime
from server.common.uow import transaction
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus
from server.contracts.usage import ItemUsage, item_usage
from server.extensions import db
from server.identity.roles import SYSTEM_ACTOR, Actor, Role
from server.identity.scoping import get_visible, require_role, scoped_select
from server.payments.models import PaymentOrder, Refund

EXPIRY_REASON = "签约期满"


def list_contracts(actor: Actor, page: PageRequest, *, status: ContractStatus | None = None,
                   period_year: int | None = None, resident_id: int | None = None) -> Page[Contract]:
    stmt = scoped_select(Contract, actor).options(selectinload(Contract.resident)).order_by(Contract.id.desc())
    stmt = where_given(stmt, (Contract.status, status), (Contract.period_year, period_year),
                       (Contract.resident_id, resident_id))
    return paginate(stmt, page)


def get_contract(actor: Actor, contract_id: int) -> Contract:
    contract = get_visible(Contract, contract_id, actor)
    db.session.refresh(contract, ["resident", "team", "doctor", "events"])
    return contract


def move(actor: Actor, contract_id: int, target: ContractStatus, reason: str) -> tuple[Contract, ContractStatus]:
    """Inside the caller's transaction: lock a visible contract, move it, and record who did it."""
    contract = get_visible(Contract, contract_id, actor, for_update=True)
    previous = contract.status
    event = contract.transition(target, reason=reason)
    if actor.role is Role.RESIDENT:
        event.wechat_account_id = actor.account_id
    else:
        event.account_id = actor.account_id
    db.session.add(event)
    return contract, previous


def terminate_contract(actor: Actor, contract_id: int, reason: str) -> Contract:
    """End an active contract (终止签约) by the institution's or the bureau's decision."""
    require_role(actor, Role.INSTITUTION_MANAGER, Role.BUREAU_STAFF)
    with transaction():
        contract, previous = move(actor, contract_id, ContractStatus.TERMINATED, reason)
        audit.record(actor, "contract.terminate", "contract", contract.id,
                     {"from": previous.value, "reason": reason})
        db.session.flush()
        db.session.refresh(contract, ["resident", "team", "doctor", "events"])
    return contract


def expire_ended_contracts(today: date) -> int:
    """Move every active contract whose period ended before `today` to expired, in SQL.

    History rows and the state change are written by two set-based statements in one
    transaction, so a run over a whole region never loads contracts into Python.
    """
    now = utcnow()
    ended = sa.and_(Contract.status == ContractStatus.ACTIVE, Contract.period_end < today)
    with transaction():
        db.session.execute(sa.insert(ContractEvent).from_select(
            ["contract_id", "from_status", "to_status", "reason", "at"],
            sa.select(Contract.id, sa.literal(ContractStatus.ACTIVE, ContractEvent.from_status.type),
                      sa.literal(ContractStatus.EXPIRED, ContractEvent.to_status.type),
                      sa.literal(EXPIRY_REASON), sa.literal(now, UTCDateTime())).where(ended)))
        count = db.session.execute(
            sa.update(Contract).where(ended).values(status=ContractStatus.EXPIRED, ended_at=now,
                                                    end_reason=EXPIRY_REASON, version=Contract.version + 1)
            .execution_options(synchronize_session=False)).rowcount
        if count:
            audit.record(SYSTEM_ACTOR, "contract.expire", "contract", "*", {"count": count, "ended_before": str(today)})
    return count


@dataclass(frozen=True)
class ContractOverview:
    """A contract with what of its package is used and the money paid and refunded."""

    contract: Contract
    items: list[ItemUsage]
    payments: list[PaymentOrder]
    refunds: list[Refund]


def contract_overview(actor: Actor, contract_id: int) -> ContractOverview:
    contract = get_contract(actor, contract_id)
    orders = list(db.session.scalars(sa.select(PaymentOrder).where(PaymentOrder.contract_id == contract.id)
                                     .order_by(PaymentOrder.id)))
    refunds = list(db.session.scalars(sa.select(Refund).where(
        Refund.payment_order_id.in_([o.id for o in orders])).order_by(Refund.id))) if orders else []
    return ContractOverview(contract, item_usage(contract), orders, refunds)
