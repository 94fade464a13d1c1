"""Duplicate-benefit alerts (重复享受待遇预警): reading them in scope, and the bureau resolving them.

The alerts are raised by `benefit_registrations` when a bureau's file brings a registration
that overlaps a signed contract's package. The bureau sees its region's, an institution's
manager and a team its own contracts' (the model's `__scope__`); only bureau staff resolve.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.errors import RuleViolation
from server.extensions import db
from server.identity.roles import MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.residents.models import BenefitAlert, BenefitAlertStatus

_LOADED = (selectinload(BenefitAlert.enrolment), selectinload(BenefitAlert.contract))


@allowed(*MANAGING_ROLES)
def list_alerts(actor: Actor, page: PageRequest, *, status: BenefitAlertStatus | None = None) -> Page[BenefitAlert]:
    """Alerts in scope, newest first, optionally of one status."""
    stmt = scoped_select(BenefitAlert, actor).options(*_LOADED).order_by(BenefitAlert.id.desc())
    return paginate(where_given(stmt, (BenefitAlert.status, status)), page)


@allowed(*MANAGING_ROLES)
def get_alert(actor: Actor, alert_id: int) -> BenefitAlert:
    with transaction():
        alert = get_visible(BenefitAlert, alert_id, actor)
        db.session.refresh(alert, ["enrolment", "contract"])
    return alert


@allowed(Role.BUREAU_STAFF)
def resolve_alert(actor: Actor, alert_id: int, note: str) -> BenefitAlert:
    """Close an open alert with what was decided (e.g. the registration ended, the contract terminated)."""
    with transaction():
        alert = get_visible(BenefitAlert, alert_id, actor, for_update=True)
        if alert.status is not BenefitAlertStatus.OPEN:
            raise RuleViolation("该预警已处理", code="BENEFIT_ALERT_RESOLVED",
                                details={"resolved_at": alert.resolved_at.isoformat()})
        alert.status = BenefitAlertStatus.RESOLVED
        alert.resolution_note = note
        alert.resolved_by_account_id = actor.account_id
        alert.resolved_at = utcnow()
        audit.record(actor, "benefit_alert.resolve", "benefit_alert", alert.id,
                     {"contract_id": alert.contract_id, "note": note})
        db.session.flush()
        db.session.refresh(alert, ["enrolment", "contract"])
    return alert


def open_alerts_of(actor: Actor, resident_id: int) -> list[BenefitAlert]:
    """The open alerts on a person's contracts that the actor may see, oldest first."""
    return list(db.session.scalars(
        scoped_select(BenefitAlert, actor).options(selectinload(BenefitAlert.enrolment))
        .where(BenefitAlert.status == BenefitAlertStatus.OPEN,
               BenefitAlert.contract_id.in_(sa.select(Contract.id).where(Contract.resident_id == resident_id)))
        .order_by(BenefitAlert.id)))
