"""Automatic indicators, computed in the database for every institution of a region at once.

Each metric is one grouped query returning (institution, numerator, denominator). The
signed population of a year is the people holding that year's contract at its end
(active or expired), counted at that contract's institution, so a person who moved
during the year counts where they ended up.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from server.claims.models import Claim
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.prescriptions.models import Dispensing, Prescription
from server.residents.models import ChronicCondition, Resident
from server.servicerecords import followup
from server.servicerecords.models import Confirmation, Reading, ServiceRecord
from server.supervision.models import AlertKind, CaseAction, SupervisionAlert, SupervisionCase
from server.surveys.models import SurveyResponse

HELD_AT_YEAR_END = (ContractStatus.ACTIVE, ContractStatus.EXPIRED)


@dataclass(frozen=True)
class Ratio:
    numerator: Decimal
    denominator: Decimal


def signed(region_id: int, year: int) -> sa.Subquery:
    """(institution_id, resident_id, contract_id) of everyone signed in `year`."""
    return (sa.select(Contract.institution_id, Contract.resident_id, Contract.id.label("contract_id"))
            .where(Contract.region_id == region_id, Contract.period_year == year,
                   Contract.status.in_(HELD_AT_YEAR_END)).subquery("signed"))


def _grouped(stmt) -> dict[int, Ratio]:
    return {row[0]: Ratio(Decimal(row[1] or 0), Decimal(row[2] or 0)) for row in db.session.execute(stmt)}


def _with_condition(people: sa.Subquery, disease: str):
    return sa.exists().where(ChronicCondition.resident_id == people.c.resident_id,
                             ChronicCondition.disease_code == disease)


def services_per_person(region_id: int, year: int) -> dict[int, Ratio]:
    people = signed(region_id, year)
    start, end = followup.year_bounds(year)
    per_contract = (sa.select(ServiceRecord.contract_id, sa.func.count().label("n"))
                    .where(ServiceRecord.confirmation != Confirmation.DISPUTED,
                           ServiceRecord.served_at >= start, ServiceRecord.served_at < end)
                    .group_by(ServiceRecord.contract_id).subquery())
    return _grouped(sa.select(people.c.institution_id, sa.func.sum(sa.func.coalesce(per_contract.c.n, 0)),
                              sa.func.count())
                    .outerjoin(per_contract, per_contract.c.contract_id == people.c.contract_id)
                    .group_by(people.c.institution_id))


def health_records_kept(region_id: int, year: int) -> dict[int, Ratio]:
    people = signed(region_id, year)
    kept = sa.case((sa.extract("year", Resident.health_record_updated_on) == year, 1), else_=0)
    return _grouped(sa.select(people.c.institution_id, sa.func.sum(kept), sa.func.count())
                    .join(Resident, Resident.id == people.c.resident_id).group_by(people.c.institution_id))


def _control_rate(region_id: int, year: int, disease: str, measure, controlled) -> dict[int, Ratio]:
    people = signed(region_id, year)
    latest = followup.latest_readings(year, measure=measure)
    ok = sa.case((sa.and_(latest.c.resident_id.is_not(None), controlled(latest)), 1), else_=0)
    return _grouped(sa.select(people.c.institution_id, sa.func.sum(ok), sa.func.count())
                    .outerjoin(latest, latest.c.resident_id == people.c.resident_id)
                    .where(_with_condition(people, disease)).group_by(people.c.institution_id))


def bp_control_rate(region_id: int, year: int) -> dict[int, Ratio]:
    return _control_rate(region_id, year, "hypertension", Reading.systolic_mmhg, followup.bp_controlled)


def glucose_control_rate(region_id: int, year: int) -> dict[int, Ratio]:
    return _control_rate(region_id, year, "diabetes", Reading.fasting_glucose_mmol, followup.glucose_controlled)


def _inpatients(year: int) -> sa.Subquery:
    return (sa.select(Claim.resident_id, sa.func.sum(Claim.total_cost_fen).label("cost"),
                      sa.func.sum(Claim.personal_paid_fen).label("personal"))
            .where(Claim.claim_type == "inpatient", sa.extract("year", Claim.admitted_on) == year)
            .group_by(Claim.resident_id).subquery("inpatients"))


def _hospitalisation_rate(region_id: int, year: int, disease: str) -> dict[int, Ratio]:
    people, stays = signed(region_id, year), _inpatients(year)
    admitted = sa.case((stays.c.resident_id.is_not(None), 1), else_=0)
    return _grouped(sa.select(people.c.institution_id, sa.func.sum(admitted), sa.func.count())
                    .outerjoin(stays, stays.c.resident_id == people.c.resident_id)
                    .where(_with_condition(people, disease)).group_by(people.c.institution_id))


def htn_hospitalisation_rate(region_id: int, year: int) -> dict[int, Ratio]:
    return _hospitalisation_rate(region_id, year, "hypertension")


def dm_hospitalisation_rate(region_id: int, year: int) -> dict[int, Ratio]:
    return _hospitalisation_rate(region_id, year, "diabetes")


def inpatient_cost_per_person_yuan(region_id: int, year: int) -> dict[int, Ratio]:
    people, stays = signed(region_id, year), _inpatients(year)
    ratios = _grouped(sa.select(people.c.institution_id, sa.func.sum(sa.func.coalesce(stays.c.cost, 0)),
                                sa.func.count())
                      .outerjoin(stays, stays.c.resident_id == people.c.resident_id)
                      .group_by(people.c.institution_id))
    return {k: Ratio(v.numerator / 100, v.denominator) for k, v in ratios.items()}  # fen → yuan


def personal_burden_share(region_id: int, year: int) -> dict[int, Ratio]:
    people, stays = signed(region_id, year), _inpatients(year)
    return _grouped(sa.select(people.c.institution_id, sa.func.sum(stays.c.personal), sa.func.sum(stays.c.cost))
                    .join(stays, stays.c.resident_id == people.c.resident_id).group_by(people.c.institution_id))


def prescriptions_filled(region_id: int, year: int) -> dict[int, Ratio]:
    filled = sa.case((sa.exists().where(Dispensing.prescription_id == Prescription.id), 1), else_=0)
    return _grouped(sa.select(Prescription.institution_id, sa.func.sum(filled), sa.func.count())
                    .where(Prescription.region_id == region_id, sa.extract("year", Prescription.issued_on) == year)
                    .group_by(Prescription.institution_id))


def satisfaction_by_channel(region_id: int, year: int) -> dict[tuple[int, str], Ratio]:
    """(institution, channel) → (sum of overall scores / 5, answers)."""
    start, end = followup.year_bounds(year)
    rows = db.session.execute(
        sa.select(SurveyResponse.institution_id, SurveyResponse.channel, sa.func.sum(SurveyResponse.score_overall),
                  sa.func.count())
        .where(SurveyResponse.region_id == region_id, SurveyResponse.answered_at >= start,
               SurveyResponse.answered_at < end)
        .group_by(SurveyResponse.institution_id, SurveyResponse.channel))
    return {(inst, channel): Ratio(Decimal(total) / 5, Decimal(count)) for inst, channel, total, count in rows}


def satisfaction(region_id: int, year: int, weights: dict[str, Decimal]) -> dict[int, Ratio]:
    """Channel means weighted as the scheme says, over the channels an institution has answers in."""
    by_channel = satisfaction_by_channel(region_id, year)
    result: dict[int, Ratio] = {}
    for institution in {inst for inst, _ in by_channel}:
        parts = [(weights.get(channel, Decimal(0)), ratio) for (inst, channel), ratio in by_channel.items()
                 if inst == institution and ratio.denominator]
        weight = sum((w for w, _ in parts), Decimal(0))
        if weight:
            value = sum((w * r.numerator / r.denominator for w, r in parts), Decimal(0)) / weight
            answers = Decimal(sum(r.denominator for _, r in parts))
            result[institution] = Ratio(value * answers, answers)  # value = numerator / denominator
    return result


def confirmed_violations_per_1000(region_id: int, year: int) -> dict[int, Ratio]:
    """Closed supervision cases with an action against the institution, per thousand signed people."""
    people = signed(region_id, year)
    cases = (sa.select(SupervisionCase.institution_id, sa.func.count().label("n"))
             .where(SupervisionCase.region_id == region_id, SupervisionCase.action != CaseAction.NONE,
                    sa.extract("year", SupervisionCase.closed_at) == year)
             .group_by(SupervisionCase.institution_id).subquery())
    heads = sa.select(people.c.institution_id, sa.func.count().label("heads")).group_by(
        people.c.institution_id).subquery()
    return _grouped(sa.select(heads.c.institution_id, sa.func.coalesce(cases.c.n, 0) * 1000, heads.c.heads)
                    .outerjoin(cases, cases.c.institution_id == heads.c.institution_id))


def cost_shifting_cases(region_id: int, year: int) -> dict[int, Ratio]:
    """Cost-shifting findings escalated to a case (a count: the denominator is 1)."""
    people = signed(region_id, year)
    found = (sa.select(SupervisionAlert.institution_id, sa.func.count().label("n"))
             .where(SupervisionAlert.region_id == region_id, SupervisionAlert.kind == AlertKind.COST_SHIFTING,
                    SupervisionAlert.status == "escalated", sa.extract("year", SupervisionAlert.created_at) == year)
             .group_by(SupervisionAlert.institution_id).subquery())
    return _grouped(sa.select(people.c.institution_id, sa.func.max(sa.func.coalesce(found.c.n, 0)), sa.literal(1))
                    .outerjoin(found, found.c.institution_id == people.c.institution_id)
                    .group_by(people.c.institution_id))
