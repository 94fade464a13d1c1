"""The contract state machine as a table: which state may follow which."""
from __future__ import annotations

import enum


class ContractStatus(str, enum.Enum):
    PENDING_PAYMENT = "pending_payment"  # 待缴费
    ACTIVE = "active"                    # 履约中
    EXPIRED = "expired"                  # 已到期
    CANCELLED = "cancelled"              # 已解约（居民）
    TERMINATED = "terminated"            # 已终止（机构或医保部门）
    TRANSFERRED = "transferred"          # 已转签（更换团队）


ALLOWED_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.PENDING_PAYMENT: frozenset({ContractStatus.ACTIVE, ContractStatus.CANCELLED}),
    ContractStatus.ACTIVE: frozenset({
        ContractStatus.EXPIRED, ContractStatus.CANCELLED, ContractStatus.TERMINATED, ContractStatus.TRANSFERRED,
    }),
    ContractStatus.EXPIRED: frozenset(),
    ContractStatus.CANCELLED: frozenset(),
    ContractStatus.TERMINATED: frozenset(),
    ContractStatus.TRANSFERRED: frozenset(),
}

# The states that hold a person's place for a period; the database allows one at a time.
LIVE_STATES = (ContractStatus.PENDING_PAYMENT, ContractStatus.ACTIVE)

STATUS_NAMES = {
    ContractStatus.PENDING_PAYMENT: "待缴费",
    ContractStatus.ACTIVE: "履约中",
    ContractStatus.EXPIRED: "已到期",
    ContractStatus.CANCELLED: "已解约",
    ContractStatus.TERMINATED: "已终止",
    ContractStatus.TRANSFERRED: "已转签",
}


def can_transition(current: ContractStatus, target: ContractStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def states_leading_to(target: ContractStatus) -> tuple[ContractStatus, ...]:
    """The states the table lets move to `target`, for set-based moves that filter in SQL."""
    return tuple(state for state, targets in ALLOWED_TRANSITIONS.items() if target in targets)
