"""The one door through which a contract's status changes, and its history is written.

Every change checks the state table (`states.ALLOWED_TRANSITIONS`) and writes a
`ContractEvent` naming who made it, inside the caller's transaction: one contract at a time
(`move` for a person acting, `move_by_system` for news from outside), or many at once in
set-based SQL (`expire_ended` for all due contracts, `end_by_system` for those a bureau's
file ends). A new contract's first history row is written here too (`opened`), and so is
news that touches a contract without moving it (`note_by_system`, the one history row whose
state stays as it was). tests/test_one_door.py fails if any other module writes either.

This module imports nothing from payments: payments calls it to activate a paid contract
while contracts calls payments for refunds, and neither import goes round in a cycle.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import sqlalchemy as sa

from server.common.timeutil import utcnow
from server.common.types import UTCDateTime
from server.contracts.models import Contract, ContractEvent
from server.contracts.states import ContractStatus, can_transition, states_leading_to
from server.extensions import db
from server.identity.roles import SYSTEM_ACTOR, Actor, Role
from server.identity.scoping import get_visible


def move(actor: Actor, contract_id: int, target: ContractStatus, reason: str) -> tuple[Contract, ContractStatus]:
    """Lock a contract the actor may see and move it to `target`, refused if the table forbids it.

    Returns the contract and the state it left.
    """
    contract = get_visible(Contract, contract_id, actor, for_update=True)
    previous = contract.status
    _record(actor, contract.transition(target, reason=reason))
    return contract, previous


def move_by_system(contract_id: int, target: ContractStatus, reason: str) -> bool:
    """The system's move on news from outside (a payment that landed), whoever the contract is for.

    Moves only if the table allows it from where the contract stands now; returns False,
    changing nothing, when it does not (cancelled meanwhile, or active already).
    """
    # Read afresh under the lock: the session may hold the contract as it was before.
    contract = db.session.scalars(sa.select(Contract).where(Contract.id == contract_id).with_for_update()
                                  .execution_options(populate_existing=True)).one()
    if not can_transition(contract.status, target):
        return False
    _record(SYSTEM_ACTOR, contract.transition(target, reason=reason))
    return True


def opened(actor: Actor, contract: Contract, reason: str, *, at: datetime | None = None) -> None:
    """The first history row of a contract just created in its starting state."""
    _record(actor, ContractEvent(contract_id=contract.id, from_status=None, to_status=contract.status,
                                 reason=reason, at=at or utcnow()))


def expire_ended(today: date, reason: str) -> int:
    """Expire every contract whose period ended before `today` and whose state the table lets expire.

    Two set-based statements, so a whole region never loads into Python: a history row for
    each contract, by the system, then the state change. Returns how many expired.
    """
    now = utcnow()
    due = sa.and_(Contract.status.in_(states_leading_to(ContractStatus.EXPIRED)), Contract.period_end < today)
    # The rows chosen are locked, so none of them moves elsewhere before the UPDATE.
    db.session.execute(sa.insert(ContractEvent).from_select(
        ["contract_id", "from_status", "to_status", "reason", "at"],
        sa.select(Contract.id, Contract.status, sa.literal(ContractStatus.EXPIRED, ContractEvent.to_status.type),
                  sa.literal(reason), sa.literal(now, UTCDateTime())).where(due).with_for_update()))
    # Only those just given their history row: a contract that fell due meanwhile waits for the next run.
    recorded = sa.exists().where(ContractEvent.contract_id == Contract.id,
                                 ContractEvent.to_status == ContractStatus.EXPIRED, ContractEvent.at == now)
    return db.session.execute(
        sa.update(Contract).where(due, recorded)
        .values(status=ContractStatus.EXPIRED, ended_at=now, end_reason=reason, version=Contract.version + 1)
        .execution_options(synchronize_session=False)).rowcount


def end_by_system(chosen: sa.Subquery, ends: Mapping[ContractStatus, ContractStatus]) -> dict[int, ContractStatus]:
    """End at once the contracts `chosen` names (columns `contract_id`, `reason`) that stand in a
    state `ends` maps from, each to the state it maps to, on news from outside (a death).

    `expire_ended`'s two statements: a history row per contract by the system, then the state
    change, both in SQL. Returns the contracts moved and the state each left, for what follows
    (refunds); the news is about few people, so the answer is small.
    """
    for source, target in ends.items():
        if not can_transition(source, target):
            raise ValueError(f"the state table does not let {source.value} become {target.value}")
    now = utcnow()
    target = sa.case(*[(Contract.status == source, sa.literal(target, ContractEvent.to_status.type))
                       for source, target in ends.items()])
    due = Contract.status.in_(list(ends))
    db.session.execute(sa.insert(ContractEvent).from_select(
        ["contract_id", "from_status", "to_status", "reason", "at"],
        sa.select(Contract.id, Contract.status, target, chosen.c.reason, sa.literal(now, UTCDateTime()))
        .join(chosen, chosen.c.contract_id == Contract.id).where(due).with_for_update(of=Contract)))
    moved = dict(db.session.execute(sa.select(ContractEvent.contract_id, ContractEvent.from_status).where(
        ContractEvent.at == now, ContractEvent.contract_id.in_(sa.select(chosen.c.contract_id)),
        ContractEvent.to_status.in_(list(ends.values())))).all())
    reason = sa.select(chosen.c.reason).where(chosen.c.contract_id == Contract.id).limit(1).scalar_subquery()
    db.session.execute(
        sa.update(Contract).where(due, Contract.id.in_(sa.select(ContractEvent.contract_id).where(
            ContractEvent.at == now, ContractEvent.contract_id.in_(sa.select(chosen.c.contract_id)))))
        .values(status=target, ended_at=now, end_reason=reason, version=Contract.version + 1)
        .execution_options(synchronize_session=False))
    return moved


def note_by_system(chosen: sa.Subquery) -> int:
    """A history row without a change of state for each contract `chosen` names (columns
    `contract_id`, `reason`): news from outside that touches a contract but does not move it,
    such as a flag for the settlement's verification. Returns how many rows were written."""
    return db.session.execute(sa.insert(ContractEvent).from_select(
        ["contract_id", "from_status", "to_status", "reason", "at"],
        sa.select(Contract.id, Contract.status, Contract.status, chosen.c.reason, sa.literal(utcnow(), UTCDateTime()))
        .join(chosen, chosen.c.contract_id == Contract.id)).execution_options(preserve_rowcount=True)).rowcount


def _record(actor: Actor, event: ContractEvent) -> None:
    """Store a history row with who acted: a resident by WeChat account, staff by account, the system by neither."""
    if actor != SYSTEM_ACTOR:
        if actor.role is Role.RESIDENT:
            event.wechat_account_id = actor.account_id
        else:
            event.account_id = actor.account_id
    db.session.add(event)
