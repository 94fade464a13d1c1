"""Use cases for institutions and their agreements with the bureau."""
from __future__ import annotations

import sqlalchemy as sa

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.uow import transaction
from server.errors import Conflict, RuleViolation
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.institutions.models import Agreement, AgreementEvent, AgreementStatus, Institution, MedicalCommunity

# Agreement states (协议状态): suspension can be lifted; termination and non-renewal are final.
AGREEMENT_TRANSITIONS: dict[AgreementStatus, frozenset[AgreementStatus]] = {
    AgreementStatus.ACTIVE: frozenset({AgreementStatus.SUSPENDED, AgreementStatus.TERMINATED,
                                       AgreementStatus.NOT_RENEWED}),
    AgreementStatus.SUSPENDED: frozenset({AgreementStatus.ACTIVE, AgreementStatus.TERMINATED,
                                          AgreementStatus.NOT_RENEWED}),
    AgreementStatus.TERMINATED: frozenset(),
    AgreementStatus.NOT_RENEWED: frozenset(),
}


@allowed(*ADMIN_ROLES)
def list_institutions(actor: Actor, page: PageRequest) -> Page[Institution]:
    return paginate(scoped_select(Institution, actor).order_by(Institution.id), page)


@allowed(*ADMIN_ROLES)
def get_institution(actor: Actor, institution_id: int) -> Institution:
    return get_visible(Institution, institution_id, actor)


@allowed(Role.BUREAU_STAFF)
def create_institution(actor: Actor, data: dict) -> Institution:
    with transaction():
        if data.get("medical_community_id") is not None:
            get_visible(MedicalCommunity, data["medical_community_id"], actor)
        if db.session.scalar(sa.select(Institution.id).where(Institution.code == data["code"])):
            raise Conflict("机构编码已存在", code="INSTITUTION_CODE_EXISTS")
        institution = Institution(region_id=actor.region_id, **data)
        db.session.add(institution)
        db.session.flush()
        audit.record(actor, "institution.create", "institution", institution.id, {"code": institution.code})
    return institution


@allowed(*MANAGING_ROLES)
def list_agreements(actor: Actor, page: PageRequest, institution_id: int | None = None) -> Page[Agreement]:
    stmt = where_given(scoped_select(Agreement, actor).order_by(Agreement.id),
                       (Agreement.institution_id, institution_id))
    return paginate(stmt, page)


@allowed(*MANAGING_ROLES)
def get_agreement(actor: Actor, agreement_id: int) -> Agreement:
    return get_visible(Agreement, agreement_id, actor)


@allowed(Role.BUREAU_STAFF)
def create_agreement(actor: Actor, data: dict) -> Agreement:
    """Sign an agreement; an institution holds at most one live (active or suspended) one."""
    with transaction():
        institution = get_visible(Institution, data["institution_id"], actor, for_update=True)
        live = db.session.scalar(sa.select(Agreement.id).where(
            Agreement.institution_id == institution.id,
            Agreement.status.in_([AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED])))
        if live:
            raise Conflict("该机构已有生效中的协议", code="AGREEMENT_ALREADY_LIVE")
        if db.session.scalar(sa.select(Agreement.id).where(Agreement.agreement_no == data["agreement_no"])):
            raise Conflict("协议编号已存在", code="AGREEMENT_NO_EXISTS")
        agreement = Agreement(region_id=institution.region_id, status=AgreementStatus.ACTIVE, **data)
        db.session.add(agreement)
        db.session.flush()
        db.session.add(AgreementEvent(agreement_id=agreement.id, from_status=None, to_status=AgreementStatus.ACTIVE,
                                      reason="签订协议", account_id=actor.account_id))
        audit.record(actor, "agreement.create", "agreement", agreement.id, {"agreement_no": agreement.agreement_no})
    return agreement


@allowed(Role.BUREAU_STAFF)
def change_agreement_status(actor: Actor, agreement_id: int, target: AgreementStatus, reason: str) -> Agreement:
    with transaction():
        agreement = get_visible(Agreement, agreement_id, actor, for_update=True)
        if target not in AGREEMENT_TRANSITIONS[agreement.status]:
            raise RuleViolation("协议当前状态不允许此变更", code="AGREEMENT_STATE_INVALID",
                                details={"from": agreement.status.value, "to": target.value})
        db.session.add(AgreementEvent(agreement_id=agreement.id, from_status=agreement.status, to_status=target,
                                      reason=reason, account_id=actor.account_id))
        audit.record(actor, "agreement.status", "agreement", agreement.id,
                     {"from": agreement.status.value, "to": target.value, "reason": reason})
        agreement.status = target
    return agreement


@allowed(*MANAGING_ROLES)
def agreement_history(actor: Actor, agreement_id: int) -> list[AgreementEvent]:
    get_visible(Agreement, agreement_id, actor)
    return list(db.session.scalars(
        scoped_select(AgreementEvent, actor).where(AgreementEvent.agreement_id == agreement_id)
        .order_by(AgreementEvent.at, AgreementEvent.id)))
