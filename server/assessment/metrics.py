"""Automatic indicators as entries: who and what each counts, selected in SQL for a whole region.

Every metric is one SELECT of entries (institution, subject, resident, contract, numerator,
denominator, evidence) over the whole region; a run inserts them with INSERT … SELECT and
an institution's numerator and denominator are their sums, so the drill-down adds up by
construction. Nothing here loads rows into Python.

Who counts where: the signed population of a year is a set of contracts. By default
("year_end") it is the contract each person holds at the year's end, and all of that
person's year counts at its institution, so a person who moved counts where they ended up.
With "each_holder" every institution that held a person's contract during the year counts
them, with what was recorded under its own contract (service records, readings); facts of
the person alone (claims, health record) count at each. Prescriptions, satisfaction answers
and supervision findings always count at the institution they belong to.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from server.claims.models import Claim
from server.contracts.models import Contract
from server.contracts.states import ContractStatus
from server.extensions import db
from server.institutions.models import Institution
from server.prescriptions.models import Dispensing, Prescription
from server.residents.models import ChronicCondition, Resident
from server.servicerecords import followup
from server.servicerecords.models import Confirmation, Reading, ServiceRecord
from server.supervision.models import AlertKind, CaseAction, SupervisionAlert, SupervisionCase
from server.surveys.models import SurveyResponse

ATTRIBUTIONS = {"year_end": "年末签约机构计入全年", "each_holder": "年内各签约机构分别计入"}
DEFAULT_ATTRIBUTION = "year_end"
HELD_AT_YEAR_END = (ContractStatus.ACTIVE, ContractStatus.EXPIRED)
HELD_DURING_YEAR = (*HELD_AT_YEAR_END, ContractStatus.TRANSFERRED)
ENTRY_COLUMNS = ("institution_id", "subject_type", "subject_id", "resident_id", "contract_id", "numerator",
                 "denominator", "evidence")
ZERO = sa.literal(0)
ONE = sa.literal(1)


_NULL_TYPES = {"resident_id": sa.BigInteger(), "contract_id": sa.BigInteger(), "evidence": sa.Text()}


def _row(institution, subject_type: str, subject, resident, contract, numerator, denominator,
         evidence=None) -> list[sa.ColumnElement]:
    """The columns of an entry, named as `IndicatorEntry`'s so every metric's SELECT lines up.

    An absent value is a NULL cast to the column's type: PostgreSQL will not put an untyped
    NULL of a UNION into a bigint column.
    """
    values = (institution, sa.literal(subject_type), subject, resident, contract, numerator, denominator, evidence)
    return [(sa.cast(sa.null(), _NULL_TYPES[name]) if value is None else value).label(name)
            for value, name in zip(values, ENTRY_COLUMNS)]


@dataclass(frozen=True)
class Scope:
    """What a metric is computed over: a region's year, the scheme's attribution and channel weights."""

    region_id: int
    year: int
    attribution: str = DEFAULT_ATTRIBUTION
    weights: tuple[tuple[str, Decimal], ...] = (("self", Decimal(1)), ("phone", Decimal(1)))

    @property
    def by_contract(self) -> bool:
        return self.attribution == "each_holder"


@dataclass(frozen=True)
class Ratio:
    numerator: Decimal
    denominator: Decimal


def _ids(column) -> sa.ColumnElement:
    """The ids behind an entry, comma-separated (string_agg on PostgreSQL, group_concat on SQLite)."""
    return sa.func.aggregate_strings(sa.cast(column, sa.String), ",")


def population(scope: Scope) -> sa.Subquery:
    """(institution_id, resident_id, contract_id) of the contracts that count in `scope.year`."""
    states = HELD_DURING_YEAR if scope.by_contract else HELD_AT_YEAR_END
    return (sa.select(Contract.institution_id, Contract.resident_id, Contract.id.label("contract_id"))
            .where(Contract.region_id == scope.region_id, Contract.period_year == scope.year,
                   Contract.status.in_(states)).subquery("signed"))


def _person_entries(people: sa.Subquery, numerator, evidence=None, denominator=ONE) -> sa.Select:
    """One entry per counted contract."""
    return sa.select(*_row(people.c.institution_id, "contract", people.c.contract_id, people.c.resident_id,
                           people.c.contract_id, numerator, denominator, evidence))


def _with_condition(people: sa.Subquery, disease: str):
    return sa.exists().where(ChronicCondition.resident_id == people.c.resident_id,
                             ChronicCondition.disease_code == disease)


def _joined(people: sa.Subquery, data: sa.Subquery, scope: Scope):
    """Records grouped per person, or per contract with "each_holder", joined to the people they belong to."""
    if scope.by_contract:
        return data.c.contract_id == people.c.contract_id
    return data.c.resident_id == people.c.resident_id


def health_records_kept(scope: Scope) -> sa.Select:
    people = population(scope)
    kept = sa.case((sa.extract("year", Resident.health_record_updated_on) == scope.year, 1), else_=0)
    return (_person_entries(people, kept, sa.cast(Resident.health_record_updated_on, sa.String))
            .join(Resident, Resident.id == people.c.resident_id))


def services_per_person(scope: Scope) -> sa.Select:
    people = population(scope)
    start, end = followup.year_bounds(scope.year)
    key = ServiceRecord.contract_id if scope.by_contract else ServiceRecord.resident_id
    served = (sa.select(key, sa.func.count().label("n"), _ids(ServiceRecord.id).label("ids"))
              .where(ServiceRecord.region_id == scope.region_id, ServiceRecord.confirmation != Confirmation.DISPUTED,
                     ServiceRecord.served_at >= start, ServiceRecord.served_at < end)
              .group_by(key).subquery("served"))
    return (_person_entries(people, sa.func.coalesce(served.c.n, 0), served.c.ids)
            .outerjoin(served, _joined(people, served, scope)))


def _control_rate(scope: Scope, disease: str, measure, controlled) -> sa.Select:
    people = population(scope)
    latest = followup.latest_readings(scope.year, measure=measure, per_contract=scope.by_contract)
    ok = sa.case((sa.and_(latest.c.reading_id.is_not(None), controlled(latest)), 1), else_=0)
    return (_person_entries(people, ok, sa.cast(latest.c.reading_id, sa.String))
            .outerjoin(latest, _joined(people, latest, scope)).where(_with_condition(people, disease)))


def bp_control_rate(scope: Scope) -> sa.Select:
    return _control_rate(scope, "hypertension", Reading.systolic_mmhg, followup.bp_controlled)


def glucose_control_rate(scope: Scope) -> sa.Select:
    return _control_rate(scope, "diabetes", Reading.fasting_glucose_mmol, followup.glucose_controlled)


def _inpatient_stays(scope: Scope) -> sa.Subquery:
    return (sa.select(Claim.resident_id, sa.func.sum(Claim.total_cost_fen).label("cost"),
                      sa.func.sum(Claim.personal_paid_fen).label("personal"), _ids(Claim.setl_id).label("ids"))
            .where(Claim.region_id == scope.region_id, Claim.claim_type == "inpatient", Claim.stands(),
                   sa.extract("year", Claim.admitted_on) == scope.year)
            .group_by(Claim.resident_id).subquery("stays"))


def _hospitalisation_rate(scope: Scope, disease: str) -> sa.Select:
    people, stays = population(scope), _inpatient_stays(scope)
    admitted = sa.case((stays.c.resident_id.is_not(None), 1), else_=0)
    return (_person_entries(people, admitted, stays.c.ids)
            .outerjoin(stays, stays.c.resident_id == people.c.resident_id).where(_with_condition(people, disease)))


def htn_hospitalisation_rate(scope: Scope) -> sa.Select:
    return _hospitalisation_rate(scope, "hypertension")


def dm_hospitalisation_rate(scope: Scope) -> sa.Select:
    return _hospitalisation_rate(scope, "diabetes")


def inpatient_cost_per_person(scope: Scope) -> sa.Select:
    """Numerators in fen (exact integers); `Metric.scale` turns the sums into yuan."""
    people, stays = population(scope), _inpatient_stays(scope)
    return (_person_entries(people, sa.func.coalesce(stays.c.cost, 0), stays.c.ids)
            .outerjoin(stays, stays.c.resident_id == people.c.resident_id))


def personal_burden_share(scope: Scope) -> sa.Select:
    """Only people with an inpatient stay count: personal payment over total cost, both in fen."""
    people, stays = population(scope), _inpatient_stays(scope)
    return (_person_entries(people, stays.c.personal, stays.c.ids, denominator=stays.c.cost)
            .join(stays, stays.c.resident_id == people.c.resident_id))


def prescriptions_filled(scope: Scope) -> sa.Select:
    """Long-term prescriptions issued in the year, at the issuing institution; filled once dispensed."""
    dispensed = (sa.select(Dispensing.prescription_id, _ids(Dispensing.id).label("ids"))
                 .group_by(Dispensing.prescription_id).subquery("dispensed"))
    filled = sa.case((dispensed.c.prescription_id.is_not(None), 1), else_=0)
    return (sa.select(*_row(Prescription.institution_id, "prescription", Prescription.id, Prescription.resident_id,
                            Prescription.contract_id, filled, ONE, dispensed.c.ids))
            .outerjoin(dispensed, dispensed.c.prescription_id == Prescription.id)
            .where(Prescription.region_id == scope.region_id, sa.extract("year", Prescription.issued_on) == scope.year))


def satisfaction(scope: Scope) -> sa.Select:
    """One entry per answer of a weighted channel, at the institution it rates.

    The value is the channel means weighted as the scheme says, over the channels an
    institution has answers in: an answer of channel c at institution i carries
    (score / 5) · (w_c / W_i) · (N_i / n_ic), so the entries sum to value × N_i over N_i.
    """
    start, end = followup.year_bounds(scope.year)
    weighted = [(channel, weight) for channel, weight in scope.weights if weight > 0]
    weight = sa.case(*((SurveyResponse.channel == channel, sa.literal(weight, sa.Numeric(18, 6)))
                       for channel, weight in weighted), else_=sa.literal(0, sa.Numeric(18, 6)))
    answers = (sa.select(SurveyResponse.id, SurveyResponse.institution_id, SurveyResponse.resident_id,
                         SurveyResponse.score_overall, weight.label("w"),
                         sa.func.count().over(partition_by=(SurveyResponse.institution_id, SurveyResponse.channel))
                         .label("n_channel"),
                         sa.func.count().over(partition_by=SurveyResponse.institution_id).label("n_all"))
               .where(SurveyResponse.region_id == scope.region_id, SurveyResponse.answered_at >= start,
                      SurveyResponse.answered_at < end,
                      SurveyResponse.channel.in_([channel for channel, _ in weighted]))
               .subquery("answers"))
    share = (sa.select(answers, sa.func.sum(answers.c.w / answers.c.n_channel)
                       .over(partition_by=answers.c.institution_id).label("w_all")).subquery("shares"))
    # Weights first: SQLite divides integers as integers, and the weight makes the product decimal.
    numerator = (share.c.w * share.c.score_overall * share.c.n_all
                 / (share.c.w_all * share.c.n_channel * 5))
    return sa.select(*_row(share.c.institution_id, "survey_response", share.c.id, share.c.resident_id, None,
                           numerator, ONE))


def confirmed_violations_per_1000(scope: Scope) -> sa.Select:
    """Supervision cases closed in the year with an action against the institution, ×1000 per signed head."""
    start, end = followup.year_bounds(scope.year)
    cases = (sa.select(*_row(SupervisionCase.institution_id, "supervision_case", SupervisionCase.id, None,
                             None, sa.literal(1000), ZERO))
             .where(SupervisionCase.region_id == scope.region_id, SupervisionCase.action != CaseAction.NONE,
                    SupervisionCase.status == "closed", SupervisionCase.closed_at >= start,
                    SupervisionCase.closed_at < end))
    return sa.union_all(cases, _person_entries(population(scope), ZERO))  # heads: denominator only


def cost_shifting_cases(scope: Scope) -> sa.Select:
    """Cost-shifting findings escalated to a case in the year: a count, over one entry per institution."""
    start, end = followup.year_bounds(scope.year)
    found = (sa.select(*_row(SupervisionAlert.institution_id, "supervision_alert", SupervisionAlert.id, None,
                             None, ONE, ZERO))
             .where(SupervisionAlert.region_id == scope.region_id, SupervisionAlert.kind == AlertKind.COST_SHIFTING,
                    SupervisionAlert.status == "escalated", SupervisionAlert.institution_id.is_not(None),
                    SupervisionAlert.created_at >= start, SupervisionAlert.created_at < end))
    institutions = (sa.select(*_row(Institution.id, "institution", Institution.id, None, None, ZERO, ONE))
                    .where(Institution.region_id == scope.region_id))
    return sa.union_all(found, institutions)


@dataclass(frozen=True)
class Metric:
    """An automatic metric: what it measures (in Chinese, for schemes and explanations) and its entries."""

    name: str
    description: str
    entries: Callable[[Scope], sa.Select]  # a SELECT of ENTRY_COLUMNS
    evidence: str = ""  # what an entry's evidence ids are
    scale: Decimal = Decimal(1)  # numerator unit of the entries → unit of the value


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("health_records_kept", "年内更新健康档案的签约居民 / 签约居民", health_records_kept, "健康档案更新日期"),
    Metric("services_per_person", "未被异议的履约记录 / 签约居民", services_per_person, "履约记录编号"),
    Metric("prescriptions_filled", "已取药的长期处方 / 年内开具的长期处方", prescriptions_filled, "取药记录编号"),
    Metric("bp_control_rate", "年内最近一次血压 <140/90 的高血压签约居民 / 高血压签约居民", bp_control_rate,
           "最近一次体征记录编号"),
    Metric("htn_hospitalisation_rate", "年内住院的高血压签约居民 / 高血压签约居民", htn_hospitalisation_rate,
           "住院结算编号"),
    Metric("glucose_control_rate", "年内最近一次空腹血糖 <7.0 的糖尿病签约居民 / 糖尿病签约居民",
           glucose_control_rate, "最近一次体征记录编号"),
    Metric("dm_hospitalisation_rate", "年内住院的糖尿病签约居民 / 糖尿病签约居民", dm_hospitalisation_rate,
           "住院结算编号"),
    Metric("inpatient_cost_per_person_yuan", "签约居民住院总费用（元） / 签约居民", inpatient_cost_per_person,
           "住院结算编号", scale=Decimal("0.01")),
    Metric("personal_burden_share", "有住院的签约居民个人支付 / 住院总费用", personal_burden_share, "住院结算编号"),
    Metric("confirmed_violations_per_1000", "年内查实违规案件 ×1000 / 签约居民", confirmed_violations_per_1000,
           "监管案件编号"),
    Metric("cost_shifting_cases", "年内查实转嫁费用案件数", cost_shifting_cases, "监管预警编号"),
    Metric("satisfaction", "满意度（本人评价与电话回访按权重，总体评分 / 5）", satisfaction),
)}


def ratios(metric: str, scope: Scope) -> dict[int, Ratio]:
    """A metric's per-institution ratios straight from the data, summed as a run sums its stored entries."""
    definition = METRICS[metric]
    entries = definition.entries(scope).subquery()
    rows = db.session.execute(sa.select(entries.c.institution_id, sa.func.sum(entries.c.numerator),
                                        sa.func.sum(entries.c.denominator)).group_by(entries.c.institution_id))
    return {inst: Ratio(Decimal(num or 0) * definition.scale, Decimal(den or 0)) for inst, num, den in rows}
