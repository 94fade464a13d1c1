"""What the region's settled claims add up to, as the bureau checks a load against its own totals."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from server.claims.models import Claim
from server.extensions import db
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import visible


@dataclass(frozen=True)
class ClaimTotals:
    """Standing settlements of one kind begun in a year (by `begndate`, as the indicators count), in fen."""

    claim_type: str
    claims: int
    total_cost_fen: int
    fund_paid_fen: int
    personal_paid_fen: int
    reversed: int


@allowed(Role.BUREAU_STAFF)
def claim_totals(actor: Actor, *, year: int) -> list[ClaimTotals]:
    """Per inpatient / outpatient: the settlements that stand and their sums; how many were reversed."""
    standing = sa.case((Claim.stands(), 1), else_=0)

    def standing_sum(column):
        return sa.func.coalesce(sa.func.sum(sa.case((Claim.stands(), column), else_=0)), 0)

    rows = db.session.execute(
        sa.select(Claim.claim_type, sa.func.coalesce(sa.func.sum(standing), 0), standing_sum(Claim.total_cost_fen),
                  standing_sum(Claim.fund_paid_fen), standing_sum(Claim.personal_paid_fen),
                  sa.func.count(Claim.reversed_by_setl_id))
        .where(visible(Claim, actor), Claim.admitted_on >= date(year, 1, 1), Claim.admitted_on <= date(year, 12, 31))
        .group_by(Claim.claim_type).order_by(Claim.claim_type))
    return [ClaimTotals(row[0], *(int(value) for value in row[1:])) for row in rows]
