"""Which contracts settlement must verify before paying for them, and why (结算核验).

Flags are raised by the bureau's roster files (`residents.roster`): the holder left the region
or stopped insurance. Settlement reads the open ones of a region's contract year here.
"""
from __future__ import annotations

import sqlalchemy as sa

from server.contracts.models import Contract
from server.settlement.models import SettlementCheck


def contracts_to_verify(region_id: int, year: int) -> sa.Select:
    """(contract_id, reason, since) of the region's contracts of `year` with an open flag, by contract."""
    return (sa.select(SettlementCheck.contract_id, SettlementCheck.reason, SettlementCheck.since)
            .join(Contract, Contract.id == SettlementCheck.contract_id)
            .where(SettlementCheck.region_id == region_id, SettlementCheck.cleared_on.is_(None),
                   Contract.period_year == year)
            .order_by(SettlementCheck.contract_id, SettlementCheck.reason))
