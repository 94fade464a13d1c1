"""Satisfaction (满意度): invitations after served visits and one response to each."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from server.audit import services as audit
from server.common.guards import unique_guard
from server.common.paging import Page, PageRequest, paginate
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.errors import Conflict, RuleViolation
from server.extensions import db
from server.identity.models import WechatAccount
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.integrations.wechat import WechatClient
from server.messaging import services as messaging
from server.residents.models import FamilyLink, ProxyStatus
from server.servicerecords.models import Confirmation, ServiceRecord
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse


@allowed(Role.RESIDENT)
def open_invitations(actor: Actor, page: PageRequest) -> Page[SurveyInvitation]:
    """Invitations of the people I act for that still await an answer."""
    answered = sa.select(SurveyResponse.invitation_id)
    stmt = (scoped_select(SurveyInvitation, actor)
            .where(SurveyInvitation.expires_at > utcnow(), SurveyInvitation.id.not_in(answered))
            .order_by(SurveyInvitation.invited_at.desc()))
    return paginate(stmt, page)


@allowed(Role.RESIDENT)
def respond(actor: Actor, invitation_id: int, answers: dict) -> SurveyResponse:
    """The resident's own answers; only for a served visit under an active contract, once."""
    with transaction():
        invitation = get_visible(SurveyInvitation, invitation_id, actor, for_update=True)
        contract = db.session.get(Contract, invitation.contract_id)
        if invitation.expires_at <= utcnow():
            raise RuleViolation("该评价邀请已过期", code="INVITATION_EXPIRED")
        if contract.status is not ContractStatus.ACTIVE:
            raise RuleViolation("仅履约中的签约居民可以评价", code="CONTRACT_NOT_ACTIVE")
        served = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord).where(
            ServiceRecord.contract_id == contract.id, ServiceRecord.confirmation != Confirmation.DISPUTED))
        if not served:
            raise RuleViolation("接受服务后方可评价", code="NOT_SERVED")
        response = SurveyResponse(invitation_id=invitation.id, region_id=contract.region_id,
                                  institution_id=contract.institution_id, team_id=contract.team_id,
                                  resident_id=contract.resident_id, channel="self", answered_at=utcnow(), **answers)
        db.session.add(response)
        with unique_guard("uq_survey_response_invitation_id", Conflict("该邀请已评价", code="ALREADY_ANSWERED")):
            db.session.flush()
        audit.record(actor, "survey.respond", "survey_invitation", invitation.id)
    return response


INVITATION_VALID = timedelta(days=7)


def invite_served_residents(wechat: WechatClient, now: datetime, template_id: str,
                            since: timedelta = timedelta(days=1)) -> int:
    """Invite a rating for each visit served since `since` under an active contract (once per visit)."""
    survey_id = None
    records = db.session.execute(
        sa.select(ServiceRecord.id, ServiceRecord.contract_id, ServiceRecord.region_id)
        .join(Contract, Contract.id == ServiceRecord.contract_id)
        .where(ServiceRecord.served_at >= now - since, ServiceRecord.served_at <= now,
               ServiceRecord.confirmation != Confirmation.DISPUTED, Contract.status == ContractStatus.ACTIVE,
               ~sa.exists().where(SurveyInvitation.service_record_id == ServiceRecord.id))).all()
    invited = 0
    for record_id, contract_id, region_id in records:
        survey_id = survey_id or db.session.scalar(sa.select(Survey.id).where(
            Survey.region_id == region_id, Survey.is_active.is_(True)).order_by(Survey.id.desc()).limit(1))
        if survey_id is None:
            return invited
        with transaction():
            invitation = SurveyInvitation(survey_id=survey_id, contract_id=contract_id, service_record_id=record_id,
                                          invited_at=now, expires_at=now + INVITATION_VALID)
            db.session.add(invitation)
        invited += 1
        for account in _accounts_for(contract_id):
            outcome = messaging.send(wechat, account, template_id=template_id, purpose="survey_invitation",
                                     subject_id=str(invitation.id), page=f"pages/survey/answer?id={invitation.id}",
                                     data={"thing1": "家庭医生服务满意度评价", "time2": now.isoformat()})
            if outcome == "sent":
                with transaction():
                    db.session.execute(sa.update(SurveyInvitation).where(SurveyInvitation.id == invitation.id)
                                       .values(message_sent_at=now))
    return invited


def _accounts_for(contract_id: int) -> list[WechatAccount]:
    return list(db.session.scalars(
        sa.select(WechatAccount).join(FamilyLink, FamilyLink.wechat_account_id == WechatAccount.id)
        .join(Contract, Contract.resident_id == FamilyLink.resident_id)
        .where(Contract.id == contract_id, FamilyLink.status == ProxyStatus.ACTIVE)))
