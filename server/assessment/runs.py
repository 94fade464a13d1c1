"""Assessment runs (考核批次): compute every institution's indicators, points and grade, snapshot, publish.

A run is computed set-based (one grouped query per metric for the whole region) and
stored as an immutable snapshot: the scheme as it was, and each indicator's numerator,
denominator, value and points per institution. A re-run is a new version.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from server.assessment import metrics
from server.assessment.deadlines import add_working_days
from server.assessment.models import (
    AssessmentRun, AssessmentScheme, IndicatorScore, InstitutionResult, ManualScore, RunStatus,
)
from server.assessment.scoring import THOUSANDTH, score
from server.audit import services as audit
from server.common.timeutil import local_today, utcnow
from server.common.uow import transaction
from server.errors import RuleViolation
from server.extensions import db
from server.identity.roles import Actor, Role
from server.identity.scoping import get_visible, require_role
from server.institutions.models import Institution
from server.regions.models import LocalRules
from server.regions.rules import grade_for, rules_in_force

VALUE_PLACES = Decimal("0.000001")  # the snapshot column's precision
METRICS = {
    "health_records_kept": metrics.health_records_kept,
    "services_per_person": metrics.services_per_person,
    "prescriptions_filled": metrics.prescriptions_filled,
    "bp_control_rate": metrics.bp_control_rate,
    "htn_hospitalisation_rate": metrics.htn_hospitalisation_rate,
    "glucose_control_rate": metrics.glucose_control_rate,
    "dm_hospitalisation_rate": metrics.dm_hospitalisation_rate,
    "inpatient_cost_per_person_yuan": metrics.inpatient_cost_per_person_yuan,
    "personal_burden_share": metrics.personal_burden_share,
    "confirmed_violations_per_1000": metrics.confirmed_violations_per_1000,
    "cost_shifting_cases": metrics.cost_shifting_cases,
}


def start_run(actor: Actor, *, year: int, scheme_id: int) -> AssessmentRun:
    """Compute a draft run of the region's assessment for `year` with a scheme of that region."""
    require_role(actor, Role.BUREAU_STAFF)
    with transaction():
        scheme = get_visible(AssessmentScheme, scheme_id, actor)
        db.session.refresh(scheme, ["indicators"])
        region_id = scheme.region_id
        rules = rules_in_force(region_id, date(year, 12, 31))
        version = (db.session.scalar(sa.select(sa.func.max(AssessmentRun.run_version)).where(
            AssessmentRun.region_id == region_id, AssessmentRun.year == year)) or 0) + 1
        run = AssessmentRun(region_id=region_id, year=year, run_version=version, scheme_id=scheme.id,
                            rules_id=rules.id, status=RunStatus.DRAFT, started_by_account_id=actor.account_id,
                            started_at=utcnow(), scheme_snapshot=_snapshot(scheme))
        db.session.add(run)
        db.session.flush()
        institutions = list(db.session.scalars(sa.select(Institution.id).where(Institution.region_id == region_id)
                                               .order_by(Institution.id)))
        computed = {i.code: _metric(i.rule, region_id, year) for i in scheme.indicators if i.method == "auto"}
        manual = {(m.indicator_id, m.institution_id): m for m in db.session.scalars(
            sa.select(ManualScore).where(ManualScore.indicator_id.in_([i.id for i in scheme.indicators])))}
        heads = metrics.services_per_person(region_id, year)
        for institution_id in institutions:
            _score_institution(run, scheme, rules, institution_id, computed, manual, heads)
        run.finished_at = utcnow()
        audit.record(actor, "assessment_run.start", "assessment_run", run.id, {"year": year, "version": version})
    return run


def _metric(rule: dict, region_id: int, year: int) -> tuple[dict[int, metrics.Ratio], Decimal | None]:
    """Per-institution ratios of one metric, and the region's pooled value for fallbacks."""
    if rule["metric"] == "satisfaction":
        weights = {k: Decimal(v) for k, v in (rule.get("weights") or {"self": "1", "phone": "1"}).items()}
        ratios = metrics.satisfaction(region_id, year, weights)
    else:
        ratios = METRICS[rule["metric"]](region_id, year)
    numerator = sum((r.numerator for r in ratios.values()), Decimal(0))
    denominator = sum((r.denominator for r in ratios.values()), Decimal(0))
    return ratios, (numerator / denominator if denominator else None)


def _score_institution(run, scheme, rules, institution_id, computed, manual, heads) -> None:
    result = InstitutionResult(run_id=run.id, institution_id=institution_id, total_points=Decimal(0), grade="",
                               signed_heads=int(heads.get(institution_id, metrics.Ratio(Decimal(0), Decimal(0)))
                                                .denominator))
    db.session.add(result)
    db.session.flush()
    total = Decimal(0)
    scores = []
    for indicator in scheme.indicators:
        points = Decimal(indicator.points)
        if indicator.method == "auto":
            ratios, region_value = computed[indicator.code]
            ratio = ratios.get(institution_id)
            value, earned, note = score(indicator.rule, points, ratio.numerator if ratio else None,
                                        ratio.denominator if ratio else None, region_value)
            numerator, denominator = (ratio.numerator, ratio.denominator) if ratio else (None, None)
        else:
            entered = manual.get((indicator.id, institution_id))
            earned = min(Decimal(entered.points), points).quantize(THOUSANDTH) if entered else Decimal("0.000")
            value = numerator = denominator = None
            note = "" if entered else "未录入人工评分"
        total += earned
        scores.append(dict(result_id=result.id, indicator_code=indicator.code, numerator=numerator,
                           denominator=denominator, value=None if value is None else value.quantize(VALUE_PLACES),
                           points=earned, note=note))
    db.session.execute(sa.insert(IndicatorScore), scores)
    result.total_points = total
    result.grade = grade_for(rules, total)


def _snapshot(scheme: AssessmentScheme) -> dict:
    return {"scheme_id": scheme.id, "name": scheme.name, "year": scheme.year, "indicators": [
        {"code": i.code, "group": i.group.value, "name": i.name, "points": str(i.points), "method": i.method,
         "rule": i.rule} for i in scheme.indicators]}


def get_run(actor: Actor, run_id: int) -> AssessmentRun:
    return get_visible(AssessmentRun, run_id, actor)


def publish(actor: Actor, run_id: int, *, published_on: date | None = None) -> AssessmentRun:
    """Publish a draft run: results go back to institutions within the rules' working days.

    The run and its scheme become immutable; a later re-run is a new version beside it.
    """
    require_role(actor, Role.BUREAU_STAFF)
    published_on = published_on or local_today()
    with transaction():
        run = get_visible(AssessmentRun, run_id, actor, for_update=True)
        if run.status is not RunStatus.DRAFT:
            raise RuleViolation("只有草稿状态的考核可以发布", code="RUN_NOT_DRAFT", details={"status": run.status.value})
        rules = db.session.get(LocalRules, run.rules_id)
        run.feedback_deadline = add_working_days(published_on, rules.feedback_deadline_working_days)
        run.appeal_deadline = add_working_days(run.feedback_deadline, rules.appeal_window_working_days)
        run.status = RunStatus.PUBLISHED
        run.published_at = utcnow()
        db.session.get(AssessmentScheme, run.scheme_id, with_for_update=True).locked = True
        audit.record(actor, "assessment_run.publish", "assessment_run", run.id,
                     {"feedback_deadline": run.feedback_deadline.isoformat()})
    return run
