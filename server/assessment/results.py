"""What a run tells each institution (考核结果): results, the drill-down behind a score, informing, appeals.

Institutions see their own results once the run is published; bureau staff see every
institution of the region, drafts included, and an assessor the institutions assigned to them
in a run, people's names masked. Every drill-down read lists people, so it is audited like
any other staff read of a person.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from server.assessment import metrics
from server.assessment.models import (
    Appeal, AppealStatus, AssessmentRun, IndicatorEntry, IndicatorScore, InstitutionResult, RunStatus,
)
from server.assessment.runs import get_run
from server.audit import services as audit
from server.common.paging import Page, PageRequest, paginate, paginate_rows, where_given
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.contracts.models import Contract
from server.errors import Conflict, NotFound, RuleViolation
from server.extensions import db
from server.identity.roles import ADMIN_ROLES, MANAGING_ROLES, Actor, Role, allowed
from server.identity.scoping import scoped_select, shown_name, visible
from server.institutions.models import Institution
from server.residents.models import Resident


@dataclass(frozen=True)
class ResultRow:
    """An institution's line in a run: its result with the institution's code and name."""

    result: InstitutionResult
    institution_code: str
    institution_name: str
    feedback_overdue: bool


def _result_rows(actor: Actor, run: AssessmentRun) -> sa.Select:
    return (sa.select(InstitutionResult, Institution.code, Institution.name)
            .join(Institution, Institution.id == InstitutionResult.institution_id)
            .where(InstitutionResult.run_id == run.id, visible(InstitutionResult, actor)))


def _row(run: AssessmentRun, result: InstitutionResult, code: str, name: str) -> ResultRow:
    overdue = (run.status is RunStatus.PUBLISHED and result.informed_at is None
               and local_today() > run.feedback_deadline)
    return ResultRow(result, code, name, overdue)


@allowed(*ADMIN_ROLES)
def list_results(actor: Actor, run_id: int, page: PageRequest, *,
                 informed: bool | None = None) -> Page[ResultRow]:
    """The institutions' totals and grades in a run, by institution code; `informed` filters on feedback."""
    run = get_run(actor, run_id)
    stmt = _result_rows(actor, run).order_by(Institution.code)
    if informed is not None:
        stmt = stmt.where(InstitutionResult.informed_at.is_not(None) if informed
                          else InstitutionResult.informed_at.is_(None))
    listed = paginate_rows(stmt, page)
    return Page([_row(run, *row) for row in listed.items], listed.total, listed.page, listed.per_page)


@dataclass(frozen=True)
class ScoreLine:
    """One indicator of an institution's result, with the scheme's words for it as the run used them."""

    code: str
    group: str
    name: str
    method: str
    max_points: Decimal
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None
    points: Decimal
    note: str


def _result(actor: Actor, run: AssessmentRun, institution_id: int) -> tuple:
    row = db.session.execute(_result_rows(actor, run).where(InstitutionResult.institution_id == institution_id)).first()
    if row is None:
        raise NotFound()
    return row


@dataclass(frozen=True)
class ResultDetail(ResultRow):
    indicators: list[ScoreLine]


@allowed(*ADMIN_ROLES)
def get_result(actor: Actor, run_id: int, institution_id: int) -> ResultDetail:
    """One institution's result and every indicator's snapshot, in the scheme's order."""
    run = get_run(actor, run_id)
    result, code, name = _result(actor, run, institution_id)
    scores = {s.indicator_code: s for s in db.session.scalars(
        sa.select(IndicatorScore).where(IndicatorScore.result_id == result.id))}
    lines = [_line(indicator, scores[indicator["code"]]) for indicator in run.scheme_snapshot["indicators"]]
    return ResultDetail(**vars(_row(run, result, code, name)), indicators=lines)


def _line(indicator: dict, score: IndicatorScore) -> ScoreLine:
    return ScoreLine(indicator["code"], indicator["group"], indicator["name"], indicator["method"],
                     Decimal(indicator["points"]), score.numerator, score.denominator, score.value, score.points,
                     score.note)


@dataclass(frozen=True)
class ExplainLine:
    """One entry of the drill-down: who or what was counted, and how much in each part."""

    subject_type: str
    subject_id: int
    resident_id: int | None
    resident_name: str | None
    id_number: str | None
    contract_id: int | None
    contract_no: str | None
    numerator: Decimal
    denominator: Decimal
    evidence: list[str]


@dataclass(frozen=True)
class Explanation:
    """A page of entries plus what the whole (filtered) list sums to."""

    indicator_code: str
    metric: str
    description: str
    evidence: str
    numerator: Decimal
    denominator: Decimal
    items: list[ExplainLine]
    total: int
    page: int
    per_page: int


@allowed(*ADMIN_ROLES)
def explain(actor: Actor, run_id: int, institution_id: int, indicator_code: str, page: PageRequest, *,
            counted_in: str | None = None) -> Explanation:
    """The people and records counted in an automatic indicator's numerator and denominator, as the run stored them.

    `counted_in` keeps the entries with a part in the "numerator" or the "denominator" only.
    The sums are the numerator and denominator of the whole list, in the indicator's unit.
    """
    run = get_run(actor, run_id)
    _result(actor, run, institution_id)
    indicator = next((i for i in run.scheme_snapshot["indicators"] if i["code"] == indicator_code), None)
    if indicator is None:
        raise NotFound("该考核方案中没有此指标", code="INDICATOR_NOT_FOUND")
    if indicator["method"] != "auto":
        raise RuleViolation("人工评分指标没有数据明细，请查看评分依据", code="INDICATOR_NOT_AUTOMATIC")
    metric = metrics.METRICS[indicator["rule"]["metric"]]
    where = [IndicatorEntry.run_id == run.id, IndicatorEntry.indicator_code == indicator_code,
             IndicatorEntry.institution_id == institution_id]
    if counted_in == "numerator":
        where.append(IndicatorEntry.numerator != 0)
    elif counted_in == "denominator":
        where.append(IndicatorEntry.denominator != 0)
    numerator, denominator = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(IndicatorEntry.numerator), 0),
                  sa.func.coalesce(sa.func.sum(IndicatorEntry.denominator), 0)).where(*where)).one()
    listed = paginate_rows(
        sa.select(IndicatorEntry, Resident.name, Resident.id_number, Contract.contract_no)
        .outerjoin(Resident, Resident.id == IndicatorEntry.resident_id)
        .outerjoin(Contract, Contract.id == IndicatorEntry.contract_id)
        .where(*where).order_by(IndicatorEntry.id), page)
    items = [ExplainLine(e.subject_type, e.subject_id, e.resident_id, shown_name(actor, name), id_number,
                         e.contract_id, contract_no, e.numerator * metric.scale, e.denominator,
                         e.evidence.split(",") if e.evidence else [])
             for e, name, id_number, contract_no in listed.items]
    with transaction():
        audit.record(actor, "assessment_result.explain", "assessment_run", run.id,
                     {"institution_id": institution_id, "indicator": indicator_code, "page": page.page,
                      "people": len({item.resident_id for item in items if item.resident_id})})
    return Explanation(indicator_code, metric.name, metric.description, metric.evidence,
                       Decimal(numerator) * metric.scale, Decimal(denominator), items, listed.total, listed.page,
                       listed.per_page)


@allowed(Role.INSTITUTION_MANAGER)
def acknowledge(actor: Actor, run_id: int, institution_id: int) -> ResultRow:
    """The institution acknowledges its published result (签收)."""
    return _mark_informed(actor, run_id, institution_id, "机构签收")


@allowed(Role.BUREAU_STAFF)
def record_informed(actor: Actor, run_id: int, institution_id: int, *, how: str) -> ResultRow:
    """The bureau records delivering a result outside the platform, and how."""
    return _mark_informed(actor, run_id, institution_id, how)


def _mark_informed(actor: Actor, run_id: int, institution_id: int, how: str) -> ResultRow:
    """Record that an institution has its result (反馈): its manager's acknowledgement, or the bureau's record.

    The first time counts; later calls change nothing, so the date the feedback deadline is
    judged against never moves.
    """
    with transaction():
        run = get_run(actor, run_id)
        if run.status is not RunStatus.PUBLISHED:
            raise RuleViolation("考核结果发布后才能反馈", code="RUN_NOT_PUBLISHED")
        result, code, name = _result(actor, run, institution_id)
        db.session.refresh(result, with_for_update=True)
        if result.informed_at is None:
            result.informed_at = utcnow()
            result.informed_by_account_id = actor.account_id or None
            result.informed_how = how
            audit.record(actor, "assessment_result.informed", "institution_result", result.id,
                         {"run_id": run.id, "institution_id": institution_id, "how": result.informed_how})
        row = _row(run, result, code, name)
    return row


@allowed(Role.INSTITUTION_MANAGER)
def file_appeal(actor: Actor, run_id: int, institution_id: int, *, reason: str,
                indicator_code: str | None = None) -> Appeal:
    """An institution appeals its result, or one indicator of it, until the appeal deadline (申诉)."""
    with transaction():
        run = get_run(actor, run_id)
        if local_today() > run.appeal_deadline:
            raise RuleViolation(f"申诉期已于{run.appeal_deadline.isoformat()}结束", code="APPEAL_WINDOW_CLOSED",
                                details={"appeal_deadline": run.appeal_deadline.isoformat()})
        if indicator_code is not None and indicator_code not in {i["code"] for i in run.scheme_snapshot["indicators"]}:
            raise NotFound("该考核方案中没有此指标", code="INDICATOR_NOT_FOUND")
        result, _, _ = _result(actor, run, institution_id)
        pending = db.session.scalar(sa.select(sa.exists().where(
            Appeal.result_id == result.id, Appeal.status == AppealStatus.OPEN,
            Appeal.indicator_code.is_(None) if indicator_code is None else Appeal.indicator_code == indicator_code)))
        if pending:
            raise Conflict("该项已有待处理的申诉", code="APPEAL_PENDING")
        appeal = Appeal(result_id=result.id, indicator_code=indicator_code, reason=reason,
                        status=AppealStatus.OPEN, filed_by_account_id=actor.account_id)
        db.session.add(appeal)
        db.session.flush()
        audit.record(actor, "assessment_appeal.file", "appeal", appeal.id,
                     {"run_id": run.id, "institution_id": institution_id, "indicator": indicator_code})
    return appeal


@allowed(*MANAGING_ROLES)
def list_appeals(actor: Actor, run_id: int, page: PageRequest, *,
                 status: AppealStatus | None = None) -> Page[Appeal]:
    run = get_run(actor, run_id)
    stmt = (scoped_select(Appeal, actor).join(InstitutionResult, InstitutionResult.id == Appeal.result_id)
            .where(InstitutionResult.run_id == run.id))
    return paginate(where_given(stmt, (Appeal.status, status)).order_by(Appeal.id), page)


@allowed(Role.BUREAU_STAFF)
def decide_appeal(actor: Actor, appeal_id: int, *, upheld: bool, answer: str) -> Appeal:
    """The bureau answers an appeal. Upholding it changes no published number: a new run does."""
    with transaction():
        appeal = db.session.scalars(scoped_select(Appeal, actor).where(Appeal.id == appeal_id)
                                    .with_for_update()).first()
        if appeal is None:
            raise NotFound()
        if appeal.status is not AppealStatus.OPEN:
            raise RuleViolation("该申诉已处理", code="APPEAL_DECIDED", details={"status": appeal.status.value})
        appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.REJECTED
        appeal.answer, appeal.decided_by_account_id, appeal.decided_at = answer, actor.account_id, utcnow()
        audit.record(actor, "assessment_appeal.decide", "appeal", appeal.id, {"status": appeal.status.value})
    return appeal
