"""Service history, and the resident confirming or disputing what a doctor logged (履约确认)."""
from __future__ import annotations

from sqlalchemy.orm import selectinload

from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, where_given
from server.common.timeutil import utcnow
from server.common.uow import transaction
from server.errors import RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role
from server.identity.scoping import get_visible, require_role, scoped_select
from server.servicerecords.models import Confirmation, ServiceRecord
from server.supervision.models import AlertKind, SupervisionAlert


def history(actor: Actor, page: PageRequest, *, resident_id: int | None = None,
            contract_id: int | None = None) -> Page[ServiceRecord]:
    stmt = (scoped_select(ServiceRecord, actor)
            .options(selectinload(ServiceRecord.item), selectinload(ServiceRecord.staff),
                     selectinload(ServiceRecord.reading))
            .order_by(ServiceRecord.served_at.desc(), ServiceRecord.id.desc()))
    stmt = where_given(stmt, (ServiceRecord.resident_id, resident_id), (ServiceRecord.contract_id, contract_id))
    return paginate(stmt, page)


def confirm(actor: Actor, record_id: int) -> ServiceRecord:
    """The resident (or the family member acting for them) confirms a logged service."""
    return _answer(actor, record_id, Confirmation.CONFIRMED, "")


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
    require_role(actor, Role.RESIDENT)
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
