"""A team's patients (我的签约居民): its contracts with the state of their care, filterable in SQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from server.common.paging import Page, PageRequest, paginate_rows
from server.common.timeutil import SHANGHAI, local_today
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.identity.roles import Actor, Role, allowed
from server.identity.scoping import scoped_select
from server.packages.models import PackageItem
from server.prescriptions.models import Prescription, PrescriptionStatus, refill_due_on
from server.residents import benefit_alerts, services as residents
from server.residents.models import BenefitAlert, ChronicCondition, Resident
from server.servicerecords import followup
from server.servicerecords.models import Confirmation, Reading, ServiceRecord


@dataclass(frozen=True)
class PatientFilters:
    disease: str | None = None
    follow_up_overdue: bool | None = None
    uncontrolled: bool | None = None
    items_owed: bool | None = None
    prescription_due_within_days: int | None = None


@dataclass(frozen=True)
class PatientDetail:
    """A patient as the doctor opens them: the resident, and the open duplicate-benefit alerts on their contracts."""

    resident: Resident
    benefit_alerts: list[BenefitAlert]

    def __getattr__(self, name: str):
        # Everything else is the resident's, so the detail dumps as the resident plus its alerts.
        return getattr(self.resident, name)


@dataclass(frozen=True)
class PatientRow:
    contract: Contract
    follow_ups: int
    next_follow_up_on: date
    follow_up_overdue: bool
    bp_controlled: bool | None  # None: not a hypertension patient
    glucose_controlled: bool | None  # None: not a diabetes patient


def _has(disease: str):
    return sa.exists().where(ChronicCondition.resident_id == Contract.resident_id,
                             ChronicCondition.disease_code == disease)


@allowed(Role.TEAM_MEMBER)
def list_patients(actor: Actor, page: PageRequest, filters: PatientFilters, *,
                  today: date | None = None) -> Page[PatientRow]:
    today = today or local_today()
    year = today.year
    fu = followup.face_to_face_follow_ups(year)
    bp = followup.latest_readings(year, measure=Reading.systolic_mmhg)
    glucose = aliased(followup.latest_readings(year, measure=Reading.fasting_glucose_mmol), name="glucose")
    bp_ok = sa.and_(bp.c.resident_id.is_not(None), followup.bp_controlled(bp))
    glucose_ok = sa.and_(glucose.c.resident_id.is_not(None), followup.glucose_controlled(glucose))
    cutoff = datetime.combine(today - followup.FOLLOW_UP_INTERVAL, time.min, SHANGHAI)
    overdue = sa.or_(sa.and_(fu.c.last_follow_up.is_(None), Contract.period_start <= today),
                     fu.c.last_follow_up < cutoff)
    stmt = (scoped_select(Contract, actor)
            .add_columns(fu.c.follow_ups, fu.c.last_follow_up, _has("hypertension").label("htn"),
                         _has("diabetes").label("dm"), bp_ok.label("bp_ok"), glucose_ok.label("glucose_ok"))
            .outerjoin(fu, fu.c.resident_id == Contract.resident_id)
            .outerjoin(bp, bp.c.resident_id == Contract.resident_id)
            .outerjoin(glucose, glucose.c.resident_id == Contract.resident_id)
            .where(Contract.status == ContractStatus.ACTIVE)
            .options(selectinload(Contract.resident))
            .order_by(Contract.id))
    if filters.disease is not None:
        stmt = stmt.where(_has(filters.disease))
    if filters.follow_up_overdue is not None:
        stmt = stmt.where(overdue if filters.follow_up_overdue else sa.not_(overdue))
    if filters.uncontrolled is not None:
        uncontrolled = sa.or_(sa.and_(_has("hypertension"), sa.not_(bp_ok)),
                              sa.and_(_has("diabetes"), sa.not_(glucose_ok)))
        stmt = stmt.where(uncontrolled if filters.uncontrolled else sa.not_(uncontrolled))
    if filters.items_owed is not None:
        stmt = stmt.where(_items_owed() if filters.items_owed else sa.not_(_items_owed()))
    if filters.prescription_due_within_days is not None:
        stmt = stmt.where(_prescription_due(today + timedelta(days=filters.prescription_due_within_days)))
    listed = paginate_rows(stmt, page)
    items = [PatientRow(
        contract=row.Contract, follow_ups=row.follow_ups or 0,
        next_follow_up_on=followup.next_due(row.last_follow_up, row.Contract.period_start),
        follow_up_overdue=followup.next_due(row.last_follow_up, row.Contract.period_start) < today,
        bp_controlled=bool(row.bp_ok) if row.htn else None,
        glucose_controlled=bool(row.glucose_ok) if row.dm else None) for row in listed.items]
    return Page(items, listed.total, listed.page, listed.per_page)


@allowed(Role.TEAM_MEMBER)
def patient_detail(actor: Actor, resident_id: int) -> PatientDetail:
    """One patient of the actor's teams (the read audited, as `get_resident` does) with the open
    duplicate-benefit alerts the bureau has not resolved yet, so the doctor does not prescribe twice."""
    resident = residents.get_resident(actor, resident_id)
    return PatientDetail(resident, benefit_alerts.open_alerts_of(actor, resident.id))


def _items_owed():
    # Two levels deep, so say which tables come from outside: auto-correlation reaches one level only.
    delivered = (sa.select(sa.func.count()).select_from(ServiceRecord)
                 .where(ServiceRecord.contract_id == Contract.id, ServiceRecord.package_item_id == PackageItem.id,
                        ServiceRecord.confirmation != Confirmation.DISPUTED)
                 .correlate_except(ServiceRecord).scalar_subquery())
    return (sa.select(PackageItem.id).where(PackageItem.package_version_id == Contract.package_version_id,
                                            delivered < PackageItem.yearly_quantity)
            .correlate_except(PackageItem).exists())


def _prescription_due(by: date):
    """An active long-term prescription whose supply runs out by `by`."""
    return (sa.select(Prescription.id).where(Prescription.contract_id == Contract.id,
                                             Prescription.status == PrescriptionStatus.ACTIVE, refill_due_on() <= by)
            .correlate_except(Prescription).exists())
