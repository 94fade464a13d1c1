"""Services: the doctor logging them and following up by phone, the resident confirming or
disputing them (履约确认), and the history both see."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.guards import unique_guard
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.errors import Conflict, Forbidden, RuleViolation, ValidationFailed
from server.extensions import db
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import get_visible, scoped_select
from server.packages.models import PackageItem
from server.regions.rules import rules_in_force
from server.residents.models import Resident
from server.servicerecords.models import Confirmation, FollowUpCall, Reading, ServiceRecord
from server.servicerecords.recording import Delivery, local_date, reading_problems, service_problem
from server.supervision.models import AlertKind, SupervisionAlert
from server.surveys.models import Survey, SurveyInvitation, SurveyResponse


@allowed(Role.RESIDENT, Role.TEAM_MEMBER)
def history(actor: Actor, page: PageRequest, *, resident_id: int | None = None,
            contract_id: int | None = None) -> Page[ServiceRecord]:
    stmt = (scoped_select(ServiceRecord, actor)
            .options(selectinload(ServiceRecord.item), selectinload(ServiceRecord.staff),
                     selectinload(ServiceRecord.reading))
            .order_by(ServiceRecord.served_at.desc(), ServiceRecord.id.desc()))
    stmt = where_given(stmt, (ServiceRecord.resident_id, resident_id), (ServiceRecord.contract_id, contract_id))
    return paginate(stmt, page)


@allowed(Role.RESIDENT)
def confirm(actor: Actor, record_id: int) -> ServiceRecord:
    """The resident (or the family member acting for them) confirms a logged service."""
    return _answer(actor, record_id, Confirmation.CONFIRMED, "")


@allowed(Role.RESIDENT)
def dispute(actor: Actor, record_id: int, reason: str) -> ServiceRecord:
    """A disputed service is not counted and goes to supervision as a possible fake service."""
    record = _answer(actor, record_id, Confirmation.DISPUTED, reason)
    with transaction():
        db.session.add(SupervisionAlert(
            region_id=record.region_id, institution_id=record.institution_id, kind=AlertKind.DISPUTED_SERVICE,
            subject_type="service_record", subject_id=str(record.id),
            details={"reason": reason, "served_at": record.served_at.isoformat(), "contract_id": record.contract_id}))
    return record


def _answer(actor: Actor, record_id: int, answer: Confirmation, reason: str) -> ServiceRecord:
    with transaction():
        record = get_visible(ServiceRecord, record_id, actor, for_update=True)
        if record.confirmation is not Confirmation.PENDING:
            raise RuleViolation("该服务记录已确认或已提出异议", code="SERVICE_ALREADY_ANSWERED",
                                details={"confirmation": record.confirmation.value})
        record.confirmation = answer
        record.confirmed_at = utcnow()
        record.dispute_reason = reason
        audit.record(actor, f"service_record.{answer.value}", "service_record", record.id)
        db.session.flush()
        db.session.refresh(record, ["item", "staff", "reading"])
    return record


@allowed(Role.TEAM_MEMBER)
def log_service(actor: Actor, data: dict) -> ServiceRecord:
    """A team member logs a delivered package item (履约记录), readings included; the resident confirms it later."""
    reading = data.get("reading") or {}
    problems = reading_problems(reading)
    if problems:
        raise ValidationFailed("体征数据不合理", code="READING_IMPLAUSIBLE", details={"fields": problems})
    with transaction():
        # Locking the contract serialises logging for one person, so the yearly count holds.
        contract = get_visible(Contract, data["contract_id"], actor, for_update=True)
        _require_member(actor, contract.team_id)
        item = db.session.get(PackageItem, data["package_item_id"])
        if item is None:
            raise RuleViolation("该服务项目不在签约服务包内", code="ITEM_NOT_IN_PACKAGE")
        served_at = data["served_at"]
        delivered = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRecord).where(
            ServiceRecord.contract_id == contract.id, ServiceRecord.package_item_id == item.id,
            ServiceRecord.confirmation != Confirmation.DISPUTED))
        rules = rules_in_force(contract.region_id, local_date(served_at))
        problem = service_problem(Delivery(contract, item, served_at, delivered), now=utcnow(),
                                  beyond_quota_allowed=rules.services_beyond_quota)
        if problem:
            raise problem
        record = ServiceRecord(contract_id=contract.id, package_item_id=item.id, resident_id=contract.resident_id,
                               region_id=contract.region_id, institution_id=contract.institution_id,
                               team_id=contract.team_id, staff_id=actor.staff_id, service_type=data["service_type"],
                               served_at=served_at, served_on=local_date(served_at), place=data.get("place", ""),
                               notes=data.get("notes", ""), source="platform")
        db.session.add(record)
        with unique_guard("uq_service_record_contract_id_package_item_id_served_at",
                          Conflict("同一项目同一时间已有服务记录", code="DUPLICATE_SERVICE")):
            db.session.flush()
        if reading:
            db.session.add(Reading(service_record_id=record.id, resident_id=contract.resident_id,
                                   measured_at=served_at, **reading))
        audit.record(actor, "service_record.create", "service_record", record.id, {"item": item.code})
        db.session.flush()
        db.session.refresh(record, ["item", "staff", "reading"])
    return record


@allowed(Role.TEAM_MEMBER)
def record_call(actor: Actor, data: dict) -> FollowUpCall:
    """A phone follow-up (电话回访); satisfaction answered on the phone is entered for the resident,
    marked as such (channel "phone", who entered it), never mixed up with their own answers."""
    answers = data.get("satisfaction")
    with transaction():
        contract = get_visible(Contract, data["contract_id"], actor)
        _require_member(actor, contract.team_id)
        if data["called_at"] > utcnow():
            raise RuleViolation("回访时间不能晚于当前时间", code="CALL_IN_FUTURE")
        call = FollowUpCall(contract_id=contract.id, resident_id=contract.resident_id, region_id=contract.region_id,
                            institution_id=contract.institution_id, team_id=contract.team_id,
                            staff_id=actor.staff_id, service_record_id=data.get("service_record_id"),
                            called_at=data["called_at"], outcome=data["outcome"], notes=data.get("notes", ""))
        db.session.add(call)
        if answers:
            if data["outcome"] != "reached":
                raise RuleViolation("未接通的回访不能录入满意度", code="CALL_NOT_REACHED")
            db.session.add(SurveyResponse(
                invitation_id=_phone_invitation(contract, data["called_at"]).id, region_id=contract.region_id,
                institution_id=contract.institution_id, team_id=contract.team_id, resident_id=contract.resident_id,
                channel="phone", entered_by_staff_id=actor.staff_id, answered_at=data["called_at"], **answers))
        with unique_guard("uq_survey_response_invitation_id", Conflict("该次邀请已有评价", code="ALREADY_ANSWERED")):
            db.session.flush()
        audit.record(actor, "follow_up_call.create", "follow_up_call", call.id, {"outcome": call.outcome})
    return call


@allowed(Role.TEAM_MEMBER)
def update_health_record(actor: Actor, resident_id: int, *, created_on: date | None, updated_on: date) -> Resident:
    """The team keeps the resident's health record (健康档案); the assessment counts well-kept ones."""
    with transaction():
        resident = get_visible(Resident, resident_id, actor, for_update=True)
        if updated_on > local_today():
            raise RuleViolation("更新日期不能晚于今天", code="DATE_IN_FUTURE")
        resident.health_record_created_on = created_on or resident.health_record_created_on or updated_on
        if updated_on < resident.health_record_created_on:
            raise RuleViolation("更新日期不能早于建档日期", code="HEALTH_RECORD_DATES")
        resident.health_record_updated_on = updated_on
        audit.record(actor, "resident.health_record", "resident", resident.id)
    return resident


def _require_member(actor: Actor, team_id: int) -> None:
    """Only a current member of the contract's team records its services."""
    if team_id not in actor.team_ids or actor.staff_id is None:
        raise Forbidden("只有签约团队成员可以记录", code="NOT_TEAM_MEMBER")


def _phone_invitation(contract: Contract, at) -> SurveyInvitation:
    """An invitation of the call's own: the resident's open invitations stay theirs to answer."""
    survey_id = db.session.scalar(sa.select(Survey.id).where(
        Survey.region_id == contract.region_id, Survey.is_active.is_(True)).order_by(Survey.id.desc()).limit(1))
    if survey_id is None:
        raise RuleViolation("本地区尚未配置满意度问卷", code="SURVEY_NOT_CONFIGURED")
    invitation = SurveyInvitation(survey_id=survey_id, contract_id=contract.id, invited_at=at,
                                  expires_at=at + timedelta(days=7))
    db.session.add(invitation)
    db.session.flush()
    return invitation
