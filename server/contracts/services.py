"""Use cases for reading contracts and for ending them by decision of an institution or the bureau."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.uow import transaction
from server.contracts import transitions
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.contracts.usage import ItemUsage, item_usage
from server.extensions import db
from server.identity.roles import MANAGING_ROLES, SYSTEM_ACTOR, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.payments import services as payments
from server.payments.models import PaymentOrder, Refund

EXPIRY_REASON = "签约期满"


@allowed(*MANAGING_ROLES, Role.RESIDENT)
def list_contracts(actor: Actor, page: PageRequest, *, status: ContractStatus | None = None,
                   period_year: int | None = None, resident_id: int | None = None) -> Page[Contract]:
    stmt = scoped_select(Contract, actor).options(selectinload(Contract.resident)).order_by(Contract.id.desc())
    stmt = where_given(stmt, (Contract.status, status), (Contract.period_year, period_year),
                       (Contract.resident_id, resident_id))
    return paginate(stmt, page)


@allowed(*MANAGING_ROLES, Role.TEAM_MEMBER, Role.RESIDENT)
def get_contract(actor: Actor, contract_id: int) -> Contract:
    contract = get_visible(Contract, contract_id, actor)
    db.session.refresh(contract, ["resident", "team", "doctor", "events"])
    return contract


@allowed(Role.INSTITUTION_MANAGER, Role.BUREAU_STAFF)
def terminate_contract(actor: Actor, contract_id: int, reason: str) -> Contract:
    """End an active contract (终止签约) by the institution's or the bureau's decision."""
    with transaction():
        contract, previous = transitions.move(actor, contract_id, ContractStatus.TERMINATED, reason)
        audit.record(actor, "contract.terminate", "contract", contract.id,
                     {"from": previous.value, "reason": reason})
        db.session.flush()
        db.session.refresh(contract, ["resident", "team", "doctor", "events"])
    return contract


def expire_ended_contracts(today: date) -> int:
    """Expire every contract whose period ended before `today` (the nightly job), in SQL."""
    with transaction():
        count = transitions.expire_ended(today, EXPIRY_REASON)
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


@allowed(Role.RESIDENT, Role.TEAM_MEMBER)
def contract_overview(actor: Actor, contract_id: int) -> ContractOverview:
    contract = get_contract(actor, contract_id)
    orders, refunds = payments.orders_and_refunds(contract.id)
    return ContractOverview(contract, item_usage(contract), orders, refunds)
